#!/bin/sh
# Start script for the Lambda Web Adapter (streaming deploy): uvicorn on $PORT.
exec python -m uvicorn handler.app:app --host 0.0.0.0 --port "${PORT:-8080}" --no-access-log
