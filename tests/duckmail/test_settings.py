"""Production settings: session and CSRF cookies are secure, HTTP-only and host-only."""

import json
import os
import subprocess
import sys

from django.conf import settings as django_settings


def test_production_cookies_are_secure_and_host_only():
    code = ("import json; from django.conf import settings as s; print(json.dumps([s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, "
            "s.SESSION_COOKIE_SAMESITE, s.DEBUG]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKMAIL_")}
    env.update(DJANGO_SETTINGS_MODULE="duckmail.settings", DUCKMAIL_SECRET_KEY="x" * 50)
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env,
                         capture_output=True, text=True, cwd=django_settings.BASE_DIR, check=True).stdout
    assert json.loads(out) == [True, True, True, "__Host-sessionid", "__Host-csrftoken", "Lax", False]
