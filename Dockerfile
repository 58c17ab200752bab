# Gemini Edge Proxy on any container host (Cloud Run, Fly.io, ECS, a VPS, ...).
#   docker build -t gemini-edge-proxy . && docker run -p 8080:8080 gemini-edge-proxy
# Settings come from the environment (README: Configuration); PORT defaults to 8080.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt
COPY handler/ handler/
RUN python -m compileall -q handler

RUN useradd --system --no-create-home proxy
USER proxy
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"]

# One process per container; scale with more containers. exec: uvicorn gets the signals.
# handler.server:GuardedHttpTools is httptools with header/body read timeouts and a header
# size limit (docs/security.md); --limit-concurrency answers 503 past 1000 connections.
CMD ["sh", "-c", "exec uvicorn handler.app:app --host 0.0.0.0 --port \"${PORT:-8080}\" --loop uvloop --http handler.server:GuardedHttpTools --limit-concurrency 1000 --timeout-keep-alive 5 --no-access-log --proxy-headers --forwarded-allow-ips '*'"]
