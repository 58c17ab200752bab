"""AWS Lambda entry point for buffered deploys (API Gateway, ALB, function URL BUFFERED).

Mangum collects the whole response before returning it, so streamed calls arrive in
one piece at the end; the streaming deploy runs the same app under uvicorn through
the Lambda Web Adapter instead (see infra/ and the README). Lifespan is off: Mangum
would run it on every invocation.
"""

from mangum import Mangum

from .app import app

handler = Mangum(app, lifespan="off")
