"""The ceiling of tests/perf/bench_public.py: a bare Flask "hello world", served by the same
gunicorn settings as the portal (`gunicorn --chdir tests/perf hello:app`)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
