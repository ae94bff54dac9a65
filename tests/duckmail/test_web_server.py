"""The web server `make run` and production use: gunicorn with threads, static files from WhiteNoise."""

import os
import re
import subprocess
import sys
import urllib.request
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection

from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.django_db


def web_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKMAIL_")}
    env.update(DUCKMAIL_DB_NAME=connection.settings_dict["NAME"], DUCKMAIL_SECRET_KEY=settings.SECRET_KEY, **extra)
    return env


@contextmanager
def gunicorn(env: dict, log_path):
    """gunicorn as scripts/run.sh starts it, on a free port, for the length of the block."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "duckmail.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "--graceful-timeout", "2", "--access-logfile", "-"],
            env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=20, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


def fetch(url: str, **headers: str):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers, response.read()


def test_in_production_gunicorn_serves_pages_and_hashed_static_files_cached_for_good(tmp_path):
    env = web_env(DUCKMAIL_STATIC_ROOT=str(tmp_path / "static"))
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env=env,
                   cwd=settings.BASE_DIR, check=True, timeout=60)
    with gunicorn(env, tmp_path / "web.log") as base:
        status, headers, body = fetch(f"{base}/login/")
        assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]
        css = re.search(rb'href="(/static/css/duckmail\.[0-9a-f]{12}\.css)"', body)
        assert css, body[:500]

        status, headers, body = fetch(base + css.group(1).decode(), **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        assert "max-age=315360000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"

        status, headers, _ = fetch(f"{base}/static/css/duckmail.css")
        assert status == 200 and "max-age=" in headers["Cache-Control"]
    assert "GET /login/" in (tmp_path / "web.log").read_text()


def test_as_make_run_starts_it_static_files_need_no_collectstatic(tmp_path):
    env = web_env(DUCKMAIL_DEBUG="1", DUCKMAIL_STATIC_ROOT=str(tmp_path / "nothing-collected"))
    with gunicorn(env, tmp_path / "web.log") as base:
        status, headers, body = fetch(f"{base}/login/")
        assert status == 200 and headers["Content-Security-Policy"]
        assert b'href="/static/css/duckmail.css"' in body

        status, headers, body = fetch(f"{base}/static/js/duckmail.js")
        assert status == 200 and body == (settings.BASE_DIR / "static" / "js" / "duckmail.js").read_bytes()
