"""Benchmark: IMAP logins (Argon2 main password vs. app-password token) and LMTP delivery.

Starts a throwaway Dovecot from the generated config against a scratch database
(`duckmail_bench`, re-created), like the tests do, and prints figures, the ratio, and a
final RESULT line.

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/logins.py [--main 20] [--tokens 200] [--mails 500]
"""

import argparse
import imaplib
import os
import smtplib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DUCKMAIL_DEBUG", "1")
os.environ["DUCKMAIL_DB_NAME"] = os.environ.get("DUCKMAIL_BENCH_DB_NAME", "duckmail_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests import servers  # noqa: E402


def recreate_database() -> None:
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    call_command("migrate", verbosity=0)


def timed_logins(user: str, password: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client = imaplib.IMAP4("127.0.0.1", settings.IMAP_PORT)
        client.login(user, password)
        times.append(time.perf_counter() - start)
        client.logout()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--main", type=int, default=20, help="logins with the main (Argon2) password")
    parser.add_argument("--tokens", type=int, default=200, help="logins with an app password")
    parser.add_argument("--mails", type=int, default=500, help="messages delivered over LMTP")
    args = parser.parse_args()

    recreate_database()
    stack = servers.start()
    try:
        from accounts import app_passwords, services

        password = "Bench-Password-2026"
        member = services.create_member("bench", password)  # production Argon2 parameters
        _token, secret = app_passwords.create_app_password(member, "bench")
        main_times = timed_logins(member.email, password, args.main)
        token_times = timed_logins(member.email, secret, args.tokens)

        message = b"From: a@example.org\r\nTo: bench@duckmail.test\r\nSubject: bench\r\n\r\n" + b"x" * 2000 + b"\r\n"
        start = time.perf_counter()
        with smtplib.LMTP("127.0.0.1", settings.LMTP_PORT) as lmtp:
            for _ in range(args.mails):
                lmtp.sendmail("a@example.org", [member.email], message)
        delivery_s = time.perf_counter() - start
    finally:
        servers.cleanup(stack)

    main_med = statistics.median(main_times) * 1000
    token_med = statistics.median(token_times) * 1000
    print(f"IMAP login, main password (Argon2id, production cost): median {main_med:.1f} ms, "
          f"{len(main_times) / sum(main_times):.1f} logins/s sequential")
    print(f"IMAP login, app password (SHA-256 token passdb):      median {token_med:.1f} ms, "
          f"{len(token_times) / sum(token_times):.1f} logins/s sequential")
    print(f"ratio main/token: {main_med / token_med:.1f}x")
    print(f"LMTP delivery: {args.mails} messages in {delivery_s:.2f} s ({args.mails / delivery_s:.0f} msg/s, one connection)")
    print(f"RESULT main_login_ms={main_med:.1f} token_login_ms={token_med:.1f} ratio={main_med / token_med:.1f} "
          f"lmtp_msgs_per_s={args.mails / delivery_s:.0f}")


if __name__ == "__main__":
    main()
