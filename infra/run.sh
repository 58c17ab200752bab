#!/bin/sh
# Start script for the streaming deploy: the Lambda Web Adapter layer runs this as the
# function's handler, waits until GET /healthz answers on $AWS_LWA_PORT (or the older
# $PORT; 8080 by default), then relays each invocation to it as plain HTTP and streams
# the response back.
#
# - The package's own directory comes first on the path, so its pinned libraries win;
#   /opt/python (layers) and $LAMBDA_RUNTIME_DIR (boto3, used only when a Secrets
#   Manager secret is configured) come after it.
# - uvloop and httptools are named explicitly: a wheel built for the wrong architecture
#   then fails the start loudly instead of silently falling back to the slow defaults.
# - handler.server:GuardedHttpTools is uvicorn's httptools protocol (so a wrong-architecture
#   wheel still fails loudly) plus header/body read timeouts and a header size limit.
# - No access log: the app writes its own JSON line per request.
# - handler.launch is `python -m uvicorn` for these options without uvicorn's command line
#   and supervisors, which a one-process server never uses: a shorter cold start.
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}:/opt/python${LAMBDA_RUNTIME_DIR:+:$LAMBDA_RUNTIME_DIR}"
export PYTHONPATH
exec python -m handler.launch handler.app:app \
    --host 0.0.0.0 --port "${AWS_LWA_PORT:-${PORT:-8080}}" \
    --loop uvloop --http handler.server:GuardedHttpTools \
    --timeout-keep-alive 5 --limit-concurrency 1000 \
    --no-access-log
