"""Benchmark: IMAP logins (Argon2 main password vs. app-password token), token-login throughput
under concurrency, a password-guessing attack on one member, and LMTP delivery.

Starts a throwaway Dovecot from the generated config against a scratch database
(`duckmail_bench`, re-created), like the tests do, with the auth policy server (the login
throttle, accounts.authpolicy) as its own process, and prints figures, ratios, and a final
RESULT line. Side by side in one run:

- token logins/s at concurrency 8/16/32 (one member per client, app passwords), with the
  policy server, without it, and with a new login process per connection (Dovecot's
  default `service_count = 1`; the generated config reuses them), to show where the time goes;
- bob's login latency (app password and main password) alone, during a guessing attack on
  alice without the policy server (the old behaviour), and during the same attack with it;
  and how many guesses reached Argon2 (answered "authentication failed") vs. were refused
  before any hash ("Too many failed attempts").

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/logins.py [--main 20] [--tokens 200] [--mails 500]
        [--concurrent-logins 600] [--attack-seconds 8] [--guessers 4]
"""

import argparse
import imaplib
import os
import re
import signal
import smtplib
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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


def login_once(user: str, password: str, address: str | None = None) -> tuple[float, str]:
    """(seconds, "ok" | "failed" | "locked" | error text) for one IMAP login and logout."""
    start = time.perf_counter()
    client = imaplib.IMAP4("127.0.0.1", settings.IMAP_PORT)
    try:
        if address:
            client.xatom("ID", f'("x-originating-ip" "{address}")')
        client.login(user, password)
        client.logout()
        outcome = "ok"
    except imaplib.IMAP4.error as exc:
        text = str(exc)
        outcome = "locked" if "Too many failed attempts" in text else "failed" if "AUTHENTICATIONFAILED" in text else text
        client.shutdown()
    return time.perf_counter() - start, outcome


def throughput(credentials: list[tuple[str, str]], concurrency: int, total: int) -> tuple[float, float, int]:
    """(logins/s, p95 ms, failures): `concurrency` clients, each its own member, `total` logins."""
    per_client = max(total // concurrency, 1)

    def client(n: int) -> list[tuple[float, str]]:
        user, secret = credentials[n % len(credentials)]
        return [login_once(user, secret, f"198.51.100.{n % 250 + 1}") for _ in range(per_client)]

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for chunk in pool.map(client, range(concurrency)) for r in chunk]
    elapsed = time.perf_counter() - start
    times = sorted(t for t, _ in results)
    return len(results) / elapsed, times[int(len(times) * 0.95) - 1] * 1000, sum(o != "ok" for _, o in results)


def restart_dovecot(stack, edit) -> None:
    """Dovecot again with its generated config changed by `edit(text) -> text`."""
    stack.dovecot.send_signal(signal.SIGTERM)
    stack.dovecot.wait(10)
    time.sleep(1.5)  # its login processes let go of the ports
    conf = stack.dovecot_conf
    conf.write_text(edit(conf.read_text()))
    stack.start_dovecot()


def without_policy(text: str) -> str:
    return re.sub(r"^auth_policy_server_url = .*$", "auth_policy_server_url =", text, flags=re.M)


def login_process_per_connection(text: str) -> str:
    """Dovecot's default "high-security mode" (the generated config reuses login processes)."""
    return text.replace("  service_count = 0\n  process_min_avail = 2\n", "  service_count = 1\n")


def attack_scenario(seconds: float, guessers: int, victim: str, bob: str, bob_password: str,
                    bob_token: str) -> dict:
    """bob's logins (app password, main password) while `guessers` clients guess at `victim`'s
    password from one address each; {"token": [s], "main": [s], "outcomes": {outcome: n}}."""
    stop = threading.Event()
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def guess(n: int) -> None:
        i = 0
        while not stop.is_set():
            _, outcome = login_once(victim, f"guess-{n}-{i}", f"203.0.113.{n + 1}")
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            i += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guessers)] if guessers else []
    for t in threads:
        t.start()
    token_times, main_times = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        token_times.append(login_once(bob, bob_token, "198.51.100.200")[0])
        main_times.append(login_once(bob, bob_password, "198.51.100.200")[0])
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    return {"token": token_times, "main": main_times, "outcomes": outcomes}


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[max(int(len(values) * 0.95) - 1, 0)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--main", type=int, default=20, help="logins with the main (Argon2) password")
    parser.add_argument("--tokens", type=int, default=200, help="logins with an app password")
    parser.add_argument("--mails", type=int, default=500, help="messages delivered over LMTP")
    parser.add_argument("--concurrent-logins", type=int, default=600, help="token logins per concurrency level")
    parser.add_argument("--attack-seconds", type=float, default=8, help="length of each attack phase")
    parser.add_argument("--guessers", type=int, default=4, help="concurrent password guessers")
    args = parser.parse_args()

    recreate_database()
    # Keys of their own in Redis: a developer's `make run` shares the server.
    settings.THROTTLE_KEY_PREFIX = f"duckmail-bench:{uuid.uuid4().hex}:"
    stack = servers.start(auth_policy_in_process=False)
    try:
        from accounts import app_passwords, services

        password = "Bench-Password-2026"
        member = services.create_member("bench", password)  # production Argon2 parameters
        _token, secret = app_passwords.create_app_password(member, "bench")
        main_times = timed_logins(member.email, password, args.main)
        token_times = timed_logins(member.email, secret, args.tokens)

        clients = []
        for n in range(32):
            m = services.create_member(f"client{n}", password)
            clients.append((m.email, app_passwords.create_app_password(m, "bench")[1]))
        bob = services.create_member("bob", password)
        bob_token = app_passwords.create_app_password(bob, "phone")[1]
        services.create_member("alice", password)
        levels = (8, 16, 32)
        conc = {("policy", c): throughput(clients, c, args.concurrent_logins) for c in levels}

        quiet = attack_scenario(args.attack_seconds, 0, "alice@duckmail.test", bob.email, password, bob_token)
        attacked = attack_scenario(args.attack_seconds, args.guessers, "alice@duckmail.test", bob.email, password,
                                   bob_token)
        restart_dovecot(stack, without_policy)
        unthrottled = attack_scenario(args.attack_seconds, args.guessers, "alice@duckmail.test", bob.email, password,
                                      bob_token)
        conc.update({("no policy", c): throughput(clients, c, args.concurrent_logins) for c in levels})
        restart_dovecot(stack, login_process_per_connection)
        conc.update({("no policy, a login process per connection", c): throughput(clients, c, args.concurrent_logins)
                     for c in levels})
        restart_dovecot(stack, lambda text: text.replace("auth_policy_server_url =\n",
                                                         f"auth_policy_server_url = http://127.0.0.1:{stack.ports.auth_policy}/\n"))
        conc.update({("policy, a login process per connection", c): throughput(clients, c, args.concurrent_logins)
                     for c in levels})

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
    print("Token logins (app passwords, one member per client, connect+LOGIN+LOGOUT):")
    for (variant, c), (rate, tail, failures) in conc.items():
        print(f"  {variant:36s} concurrency {c:2d}: {rate:6.1f} logins/s, p95 {tail:6.1f} ms, {failures} refused")
    print(f"bob during a guessing attack on alice ({args.guessers} guessers, {args.attack_seconds:.0f} s each):")
    for name, run in (("no attack", quiet), ("attack, no policy server", unthrottled), ("attack, policy server", attacked)):
        print(f"  {name:26s} app password median {statistics.median(run['token']) * 1000:6.1f} ms p95 {p95(run['token']):6.1f} ms"
              f" | main password median {statistics.median(run['main']) * 1000:6.1f} ms p95 {p95(run['main']):6.1f} ms"
              f" | guesses {run['outcomes']}")
    hashed = attacked["outcomes"].get("failed", 0)
    print(f"guesses that reached Argon2: {unthrottled['outcomes'].get('failed', 0)} without the policy server, "
          f"{hashed} with it ({attacked['outcomes'].get('locked', 0)} refused before any hash)")
    best = max(rate for (variant, _), (rate, _, _) in conc.items() if variant.startswith("policy"))
    print(f"RESULT main_login_ms={main_med:.1f} token_login_ms={token_med:.1f} ratio={main_med / token_med:.1f} "
          f"lmtp_msgs_per_s={args.mails / delivery_s:.0f} "
          + " ".join(f"token_per_s_c{c}={conc[('policy', c)][0]:.0f}" for c in levels)
          + f" token_per_s_best_policy={best:.0f}"
          f" bob_token_p95_ms_quiet={p95(quiet['token']):.0f} bob_token_p95_ms_attack_nopolicy={p95(unthrottled['token']):.0f}"
          f" bob_token_p95_ms_attack_policy={p95(attacked['token']):.0f}"
          f" bob_main_median_ms_quiet={statistics.median(quiet['main']) * 1000:.0f}"
          f" bob_main_median_ms_attack_nopolicy={statistics.median(unthrottled['main']) * 1000:.0f}"
          f" bob_main_median_ms_attack_policy={statistics.median(attacked['main']) * 1000:.0f}"
          f" guesses_hashed_nopolicy={unthrottled['outcomes'].get('failed', 0)} guesses_hashed_policy={hashed}")


if __name__ == "__main__":
    main()
