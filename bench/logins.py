"""Benchmark: IMAP logins (Argon2 main password vs. app-password token), token-login throughput
under concurrency, a password-guessing attack on one member, and LMTP delivery.

Starts a throwaway Dovecot from the generated config against a scratch database
(`duckmail_bench`, re-created; DUCKMAIL_BENCH_DB_NAME), like the tests do, with the auth
policy server (the login throttle, accounts.authpolicy) as its own process, and prints
figures, ratios, and a final RESULT line. Side by side in one run:

- token logins/s at concurrency 8/16/32 (app passwords, one member per client, each client
  a process of its own, forked once: no GIL shared with the others), for the generated config
  and for variants that undo one choice each, with the CPU each part of the stack spent
  per login (from /proc: imap = post-login processes, login = imap-login, auth, policy
  server, PostgreSQL, Redis, the client, kernel threads, and "other": the rest of the
  machine, which is shared) to show where the time goes:
    - "policy": the generated config (auth policy server asked before every login);
    - "no policy": without the policy server (what the throttle costs);
    - "imap process per login": Dovecot's default `service imap { service_count = 1 }`,
      a new post-login process for every login (the generated config reuses them);
    - "login process per connection": Dovecot's default for imap-login (`service_count = 1`);
    - "policy, client threads": the same logins from threads of this one process (as the
      benchmark once did), to see whether the client is what limits the figure;
- bob's login latency (app password and main password) alone, during a guessing attack on
  alice without the policy server (the old behaviour), and during the same attack with it;
  and how many guesses reached Argon2 (answered "authentication failed") vs. were refused
  before any hash ("Too many failed attempts").

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/logins.py [--main 20] [--tokens 200] [--mails 500]
        [--concurrent-logins 600] [--attack-seconds 8] [--guessers 4]
"""

import argparse
import collections
import imaplib
import multiprocessing
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
from functools import partial
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


def client_logins(n: int, credentials: list[tuple[str, str]], count: int) -> list[tuple[float, str]]:
    """Client `n`: `count` logins in a row as its member, from an address of its own."""
    user, secret = credentials[n % len(credentials)]
    return [login_once(user, secret, f"198.51.100.{n % 250 + 1}") for _ in range(count)]


def _client_loop(jobs) -> None:
    """A client process: for each (n, credentials, count, start) job, at `start` (the
    machine's monotonic clock), client_logins(); answers (results, end) or the exception."""
    while (job := jobs.recv()) is not None:
        n, credentials, count, start = job
        time.sleep(max(start - time.monotonic(), 0))
        try:
            jobs.send((client_logins(n, credentials, count), time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
            jobs.send(exc)


class ClientProcesses:
    """Client processes, forked once before any figure is taken and reused by every phase:
    threads of this one process would share its GIL, and forking anew for each phase would
    measure the forks (and the copying of this process's pages) too."""

    def __init__(self, size: int):
        connection.close()  # no database connection shared with the children
        ctx = multiprocessing.get_context("fork")
        self._pipes, self._processes = [], []
        for _ in range(size):
            ours, theirs = ctx.Pipe()
            process = ctx.Process(target=_client_loop, args=(theirs,), daemon=True)
            process.start()
            self._pipes.append(ours)
            self._processes.append(process)

    def run(self, credentials: list[tuple[str, str]], concurrency: int, count: int) -> tuple[list, float]:
        """All the clients' results and the seconds from their common start to the last one's end."""
        start = time.monotonic() + 0.1  # every client has its job by then
        for n, pipe in enumerate(self._pipes[:concurrency]):
            pipe.send((n, credentials, count, start))
        answers = [pipe.recv() for pipe in self._pipes[:concurrency]]
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return [r for results, _ in answers for r in results], max(end for _, end in answers) - start

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.send(None)
        for process in self._processes:
            process.join(10)


def throughput(credentials: list[tuple[str, str]], concurrency: int, total: int,
               processes: ClientProcesses | None = None) -> tuple[float, float, int]:
    """(logins/s, p95 ms, failures): `concurrency` clients, each its own member, `total` logins;
    the clients are `processes`, or else threads of this process."""
    per_client = max(total // concurrency, 1)
    if processes:
        results, elapsed = processes.run(credentials, concurrency, per_client)
    else:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            chunks = pool.map(partial(client_logins, credentials=credentials, count=per_client), range(concurrency))
            results = [r for chunk in chunks for r in chunk]
        elapsed = time.perf_counter() - start
    times = sorted(t for t, _ in results)
    return len(results) / elapsed, times[int(len(times) * 0.95) - 1] * 1000, sum(o != "ok" for _, o in results)


CPU_PARTS = ("imap", "login", "auth", "policy", "postgres", "redis", "client", "kernel", "other")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, int, int]]:
    """{pid: (parent pid, command line, own CPU ticks, CPU ticks of its reaped children)}."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        table[int(entry.name)] = (int(fields[1]), cmdline, utime + stime, cutime + cstime)
    return table


def _machine_busy_ticks() -> int:
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait


class CpuMeter:
    """CPU time per part of the stack during a phase, in ms per login (CPU_PARTS)."""

    def __init__(self, stack):
        self.stack = stack

    def _part(self, pid: int, ppid: int, cmdline: str) -> str | None:
        dovecot = self.stack.dovecot.pid
        if ppid == dovecot:
            name = cmdline.split(" ")[0].rsplit("/", 1)[-1]
            return {"imap": "imap", "pop3": "imap", "imap-login": "login", "auth": "auth",
                    "auth-worker": "auth"}.get(name, "other")
        if pid == getattr(self.stack.auth_policy, "pid", None):
            return "policy"
        if cmdline.startswith("postgres:") and f" {connection.settings_dict['NAME']} " in cmdline:
            return "postgres"
        if cmdline.startswith("redis-server"):
            return "redis"
        if pid == os.getpid() or ppid == os.getpid():
            return "client"
        if pid == 2 or ppid == 2:
            return "kernel"
        return None

    def run(self, fn):
        """fn()'s result and {part: CPU ms} used while it ran."""
        before, busy_before = _processes(), _machine_busy_ticks()
        result = fn()
        after, busy_after = _processes(), _machine_busy_ticks()
        used = collections.Counter()
        for pid, (ppid, cmdline, own, reaped) in after.items():
            old = before.get(pid)
            same = old is not None and old[1] == cmdline
            part = self._part(pid, ppid, cmdline)
            if part:
                used[part] += own - (old[2] if same else 0)
            # Processes that ended meanwhile show only in their parent's reaped time: Dovecot's
            # per-login processes (counted as imap; with a login process per connection,
            # those too) and the client processes. What they had used before is not this phase's.
            if pid in (self.stack.dovecot.pid, os.getpid()):
                ended_before = sum(o[2] + o[3] for p, o in before.items() if o[0] == pid and p not in after)
                used["imap" if pid == self.stack.dovecot.pid else "client"] += (
                    reaped - (old[3] if same else 0) - ended_before)
        used["other"] += (busy_after - busy_before) - sum(used.values())
        return result, {part: used[part] / _CLOCK_TICKS * 1000 for part in CPU_PARTS}


def restart_dovecot(stack, *edits) -> None:
    """Dovecot again with its generated config changed by each `edit(text) -> text` in turn
    (none: the generated config as it was)."""
    stack.dovecot.send_signal(signal.SIGTERM)
    stack.dovecot.wait(10)
    time.sleep(1.5)  # its login processes let go of the ports
    conf = stack.dovecot_conf
    generated = conf.with_name("dovecot.conf.generated")
    if not generated.exists():
        generated.write_text(conf.read_text())
    text = generated.read_text()
    for edit in edits:
        text = edit(text)
    conf.write_text(text)
    stack.start_dovecot()


def _replace(text: str, pattern: str, replacement: str) -> str:
    changed, count = re.subn(pattern, replacement, text, flags=re.M)
    if count != 1:  # a variant that changes nothing would measure the generated config twice
        raise SystemExit(f"bench: the generated dovecot.conf has no (single) {pattern!r} to change")
    return changed


def without_policy(text: str) -> str:
    return _replace(text, r"^auth_policy_server_url = .*$", "auth_policy_server_url =")


def imap_process_per_login(text: str) -> str:
    """Dovecot's default for post-login processes (the generated config reuses them)."""
    return _replace(text, r"^(service imap \{\n(?:  #.*\n)*)  service_count = \d+$", r"\1  service_count = 1")


def login_process_per_connection(text: str) -> str:
    """Dovecot's default "high-security mode" (the generated config reuses login processes)."""
    return _replace(text, r"^  service_count = 0\n  process_min_avail = 2$", "  service_count = 1")


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
        meter = CpuMeter(stack)
        conc: dict[tuple[str, int], tuple[float, float, int]] = {}
        cpu: dict[tuple[str, int], dict[str, float]] = {}

        client_processes = ClientProcesses(max(levels))

        def measure(variant: str, levels_=levels, processes: ClientProcesses | None = client_processes) -> None:
            # Unmeasured first: Dovecot (just restarted) starts its processes, as a running server has.
            throughput(clients, max(levels_), 2 * max(levels_), processes)
            for c in levels_:
                conc[variant, c], used = meter.run(partial(throughput, clients, c, args.concurrent_logins, processes))
                logins = max(args.concurrent_logins // c, 1) * c
                cpu[variant, c] = {part: ms / logins for part, ms in used.items()}

        measure("policy")
        measure("policy, client threads", (8, 32), processes=None)
        quiet = attack_scenario(args.attack_seconds, 0, "alice@duckmail.test", bob.email, password, bob_token)
        attacked = attack_scenario(args.attack_seconds, args.guessers, "alice@duckmail.test", bob.email, password,
                                   bob_token)
        restart_dovecot(stack, without_policy)
        unthrottled = attack_scenario(args.attack_seconds, args.guessers, "alice@duckmail.test", bob.email, password,
                                      bob_token)
        measure("no policy")
        restart_dovecot(stack, imap_process_per_login)
        measure("policy, imap process per login")
        restart_dovecot(stack, without_policy, imap_process_per_login)
        measure("no policy, imap process per login")
        restart_dovecot(stack, login_process_per_connection)
        measure("policy, login process per connection")
        restart_dovecot(stack, without_policy, login_process_per_connection)
        measure("no policy, login process per connection")
        client_processes.close()

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
    print("Token logins (app passwords, one member per client, connect+ID+LOGIN+LOGOUT), and the CPU each part "
          "spent per login (ms):")
    print(f"  {'variant':38s} {'conc':>4s} {'logins/s':>8s} {'p95 ms':>7s} {'refused':>7s} |"
          + "".join(f" {part:>7s}" for part in CPU_PARTS) + f" {'total':>6s}")
    for (variant, c), (rate, tail, failures) in conc.items():
        used = cpu[variant, c]
        print(f"  {variant:38s} {c:4d} {rate:8.1f} {tail:7.1f} {failures:7d} |"
              + "".join(f" {used[part]:7.2f}" for part in CPU_PARTS) + f" {sum(used.values()):6.2f}")
    print("  (2 cores: 2000 ms of CPU per second; 'other' is the rest of the machine, shared with others, and"
          " the rounding of the kernel's 10 ms clock ticks, hence ± 0.3)")
    print(f"bob during a guessing attack on alice ({args.guessers} guessers, {args.attack_seconds:.0f} s each):")
    for name, run in (("no attack", quiet), ("attack, no policy server", unthrottled), ("attack, policy server", attacked)):
        print(f"  {name:26s} app password median {statistics.median(run['token']) * 1000:6.1f} ms p95 {p95(run['token']):6.1f} ms"
              f" | main password median {statistics.median(run['main']) * 1000:6.1f} ms p95 {p95(run['main']):6.1f} ms"
              f" | guesses {run['outcomes']}")
    hashed = attacked["outcomes"].get("failed", 0)
    print(f"guesses that reached Argon2: {unthrottled['outcomes'].get('failed', 0)} without the policy server, "
          f"{hashed} with it ({attacked['outcomes'].get('locked', 0)} refused before any hash)")
    best = max(rate for (variant, _), (rate, _, _) in conc.items() if variant == "policy")

    def rates(variant: str, suffix: str) -> str:
        return " ".join(f"token_per_s_c{c}{suffix}={conc[variant, c][0]:.0f}" for c in levels)

    print(f"RESULT main_login_ms={main_med:.1f} token_login_ms={token_med:.1f} ratio={main_med / token_med:.1f} "
          f"lmtp_msgs_per_s={args.mails / delivery_s:.0f} "
          + rates("policy", "")
          + f" token_per_s_best_policy={best:.0f} "
          + rates("no policy", "_nopolicy") + " " + rates("policy, imap process per login", "_imap_per_login")
          + f" token_per_s_c32_client_threads={conc['policy, client threads', 32][0]:.0f}"
          f" cpu_ms_per_login_c32={sum(cpu['policy', 32].values()):.2f}"
          f" cpu_ms_per_login_c32_imap_per_login={sum(cpu['policy, imap process per login', 32].values()):.2f}"
          f" imap_cpu_ms_per_login_c32={cpu['policy', 32]['imap']:.2f}"
          f" imap_cpu_ms_per_login_c32_imap_per_login={cpu['policy, imap process per login', 32]['imap']:.2f}"
          f" policy_cpu_ms_per_login_c32={cpu['policy', 32]['policy']:.2f}"
          f" bob_token_p95_ms_quiet={p95(quiet['token']):.0f} bob_token_p95_ms_attack_nopolicy={p95(unthrottled['token']):.0f}"
          f" bob_token_p95_ms_attack_policy={p95(attacked['token']):.0f}"
          f" bob_main_median_ms_quiet={statistics.median(quiet['main']) * 1000:.0f}"
          f" bob_main_median_ms_attack_nopolicy={statistics.median(unthrottled['main']) * 1000:.0f}"
          f" bob_main_median_ms_attack_policy={statistics.median(attacked['main']) * 1000:.0f}"
          f" guesses_hashed_nopolicy={unthrottled['outcomes'].get('failed', 0)} guesses_hashed_policy={hashed}")


if __name__ == "__main__":
    main()
