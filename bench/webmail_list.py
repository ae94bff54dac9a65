"""Benchmark: the webmail on a 100,000-message folder, against the web server as production
serves it (gunicorn), logged in as the member over HTTP, side by side with the raw imapclient
time for the same IMAP work on a kept connection.

The folder is filled once (APPEND of varied generated messages: senders, subjects, dates
over five years, sizes, some HTML, some attachments) and kept between runs in
`var/bench/<database>/` with its database (`duckmail_bench_webmail`, or
`DUCKMAIL_BENCH_DB_NAME`); `--fresh` starts over.
Measured in one run, each a median of `--repeat` requests (after one warm-up):

- list page 1 and a middle page, by date and by subject (web), and the raw IMAP for the same
  page on a kept connection, as the web does it: NOOP, the sidebar (LIST-STATUS; the quota
  once a minute), STATUS of the folder, the sorted UIDs kept from an earlier SORT, UID FETCH
  of its 50 rows (a whole-folder SORT and GETQUOTAROOT are timed apart);
- opening a message never opened before (web, a different message each time), and the raw
  IMAP of the reading view: the sidebar, UID FETCH BODY.PEEK[] FLAGS, STORE +FLAGS \\Seen;
- a body search through Dovecot's full-text index (raw IMAP; the web's search is to come);
- the conversations page (threads kept on the connection);
- the memory one kept idle connection holds in a web process with this folder's sorted UIDs
  and threads (tracemalloc, the webmail's own code), beside the pool's bound.

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/webmail_list.py [--messages 100000] [--repeat 15] [--fresh]

Last line: RESULT ratio=<worst web/raw ratio> page_ms=<worst median list page>
open_ms=<median open> search_ms=<median body search> kept_kib=<one kept idle connection>
ratio_sorting_client=<worst list page ratio to a kept connection that SORTs each page>
"""

import argparse
import http.client
import itertools
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DUCKMAIL_DEBUG", "1")
os.environ["DUCKMAIL_DB_NAME"] = os.environ.get("DUCKMAIL_BENCH_DB_NAME", "duckmail_bench_webmail")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from tests import servers  # noqa: E402

# The kept folder belongs with its database: one directory per database name.
BASE = ROOT / "var" / "bench" / os.environ["DUCKMAIL_DB_NAME"]
LOCAL = "bench"
PASSWORD = "correct horse battery staple 42"
WORDS = ("invoice meeting holiday report garden project budget concert family photos school train "
         "ticket newsletter update question answer tomorrow weekend dinner library bicycle kitchen "
         "music letter offer contract review draft agenda minutes summer winter river mountain").split()
NAMES = [f"{a} {b}" for a in ("Ada", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Giulia", "Hiro", "Ines", "Jonas")
         for b in ("Smith", "Müller", "Kowalski", "Tanaka", "Okafor", "García", "Novak", "Larsen", "Rossi", "Dubois")]


# The folder --------------------------------------------------------------------------


def database_ready() -> bool:
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
    if not exists:
        return False
    from accounts.models import Member

    return Member.objects.filter(email=f"{LOCAL}@{settings.SERVICE_DOMAIN}").exists()


def recreate_database() -> None:
    import psycopg

    db = connection.settings_dict
    connection.close()
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    call_command("migrate", verbosity=0)
    from accounts import services

    services.create_member(LOCAL, PASSWORD)


def message(n: int, rng: random.Random, start: datetime) -> tuple[bytes, datetime]:
    name = rng.choice(NAMES)
    when = start + timedelta(seconds=n * 1577 + rng.randrange(600))
    msg = EmailMessage()
    msg["From"] = f"{name} <{name.split()[0].lower()}.{n % 997}@example.org>"
    msg["To"] = f"{LOCAL}@{settings.SERVICE_DOMAIN}"
    msg["Subject"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7))).capitalize() + f" #{n}"
    msg["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = f"<bench-{n}@example.org>"
    body = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(rng.randint(3, 40)))
    msg.set_content(f"Hello,\n\n{body}\n\nmarker{n}\n")
    if n % 3 == 0:
        msg.add_alternative(f"<html><body><p>Hello,</p><p>{body}</p><img src='https://tracker.example/{n}.png'>"
                            "</body></html>", subtype="html")
    if n % 17 == 0:
        msg.add_attachment(rng.randbytes(rng.randint(2_000, 60_000)), maintype="application", subtype="pdf",
                           filename=f"document-{n}.pdf")
    return msg.as_bytes(), when


def fill(stack, count: int) -> None:
    client = IMAPClient("127.0.0.1", port=stack.ports.imap, ssl=False, timeout=120)
    client.login(f"{LOCAL}@{settings.SERVICE_DOMAIN}", PASSWORD)
    have = client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    rng = random.Random(1234 + have)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    batch = []
    for n in range(have, count):
        raw, when = message(n, rng, start)
        flags = [b"\\Seen"] if rng.random() < 0.8 else []
        if rng.random() < 0.05:
            flags.append(b"\\Flagged")
        batch.append({"msg": raw, "flags": flags, "date": when})
        if len(batch) == 500 or n == count - 1:
            client.multiappend("INBOX", batch)
            batch = []
            done = n + 1 - have
            rate = done / (time.perf_counter() - began)
            print(f"  filled {n + 1}/{count} ({rate:.0f}/s)", end="\r", flush=True)
    if count > have:
        print()
    have = client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    client.logout()
    if have < count:
        raise SystemExit(f"the folder holds {have} messages, not {count}: over the member's quota?")


def kept_connection_kib(stack, user: str) -> float:
    """What one kept connection holds in a web process once idle, with the webmail's own
    code: the imapclient connection, the selected folder, its sorted UIDs by date and its
    threads (what paging the list and the conversations keeps), measured with tracemalloc."""
    import gc
    import tracemalloc

    from webmail.mailbox import listing, session, threads

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    client = IMAPClient("127.0.0.1", port=stack.ports.imap, ssl=False, timeout=600)
    client.login(user, PASSWORD)
    selected, _ = session.select(client, "INBOX")
    listing.sorted_uids(client, selected, ["REVERSE", "DATE"])
    threads.ordered_threads(client, selected, ["REVERSE", "DATE"])
    client.noop()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    client.logout()
    return held / 1024


# The web server ----------------------------------------------------------------------


def start_web(stack) -> tuple[subprocess.Popen, int]:
    port = servers.free_port()
    env = {**os.environ, "DUCKMAIL_DB_NAME": connection.settings_dict["NAME"],
           "DUCKMAIL_IMAP_PORT": str(stack.ports.imap), "DUCKMAIL_MANAGESIEVE_PORT": str(stack.ports.managesieve),
           "DUCKMAIL_LMTP_PORT": str(stack.ports.lmtp), "DUCKMAIL_MAILCONFIG_DIR": str(stack.dir),
           "DUCKMAIL_AUTH_POLICY_PORT": str(stack.ports.auth_policy),
           # Production settings (cached templates, hashed static files), with a key of this
           # run's own; cookies stay usable over the loopback's plain HTTP.
           "DUCKMAIL_DEBUG": "0", "DUCKMAIL_SECRET_KEY": secrets.token_urlsafe(40), "DUCKMAIL_SECURE_COOKIES": "0",
           "DUCKMAIL_STATIC_ROOT": str(BASE / "static")}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    # As docs/production.md runs it (threads share one process's kept IMAP connections).
    web = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "duckmail.wsgi", "--bind", f"127.0.0.1:{port}",
                            "--workers", "1", "--threads", "4"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=open(stack.dir / "log" / "web.log", "ab"))
    servers.wait_for_port(port, proc=web)
    return web, port


class Browser:
    """One member's browser: a kept HTTP connection and its cookies."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, bytes, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": "127.0.0.1"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1{path}"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            key, _, rest = value.partition("=")
            self.cookies[key] = rest.split(";", 1)[0]
        return response.status, data, dict(response.headers)

    def login(self, user: str, password: str) -> None:
        status, page, _ = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        status, _, headers = self.request("POST", "/login/", {"csrfmiddlewaretoken": token, "username": user,
                                                               "password": password})
        if status != 302:
            raise SystemExit(f"web login failed ({status})")


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--fresh", action="store_true", help="drop the kept folder and database first")
    args = parser.parse_args()

    if args.fresh and BASE.exists():
        subprocess.run(["rm", "-rf", str(BASE)], check=True)
    fresh = args.fresh or not database_ready() or not (BASE / "vmail").exists()
    if fresh:
        recreate_database()
    else:
        call_command("migrate", verbosity=0)  # a kept database of an older checkout
    # 100,000 varied messages take ~700 MB: more than the default quota holds.
    from accounts.models import Member

    Member.objects.filter(email=f"{LOCAL}@{settings.SERVICE_DOMAIN}").update(quota_mb=4096)
    stack = servers.start(base=BASE, auth_policy_in_process=False)
    web = None
    try:
        began = time.perf_counter()
        fill(stack, args.messages)
        print(f"folder: {args.messages} messages ready in {time.perf_counter() - began:.1f} s")
        user = f"{LOCAL}@{settings.SERVICE_DOMAIN}"

        raw = IMAPClient("127.0.0.1", port=stack.ports.imap, ssl=False, timeout=1800)
        raw.login(user, PASSWORD)
        raw.select_folder("INBOX")
        # Whatever the indexer has not indexed yet is indexed before a body search answers:
        # done once here, so that no figure below pays for it (or competes with it for CPU).
        began = time.perf_counter()
        raw.search(["BODY", "nosuchwordanywhere"])
        print(f"full-text index caught up in {time.perf_counter() - began:.1f} s")
        uids_by_date = raw.sort(["REVERSE", "DATE"])
        fields = ["UID", "FLAGS", "ENVELOPE", "RFC822.SIZE", "INTERNALDATE", "BODYSTRUCTURE"]
        if raw.has_capability("PREVIEW"):
            fields.append("PREVIEW")  # the list's preview line
        middle = len(uids_by_date) // 2 // 50
        figures: dict[str, float] = {}

        quota_asked = []

        def sidebar():
            # What every webmail page asks besides its own work: the folder tree with counts
            # (LIST-STATUS), and the quota — which the web asks once a minute per connection
            # (Dovecot's count quota opens every folder: it is timed apart below).
            typ, data = raw._imap._simple_command(
                "LIST", '""', '"*"', "RETURN", "(SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UNSEEN))")
            raw._checkok("list", typ, data)
            if not quota_asked:
                quota_asked.append(raw.get_quota_root("INBOX"))

        sorted_lists = {}

        def raw_page(order: list[str], page: int):
            # The same IMAP work as the web's page on a kept connection: the sorted UIDs are
            # kept while the folder is unchanged (checked with NOOP and STATUS), the rows fetched.
            raw.noop()
            sidebar()
            raw.folder_status("INBOX", ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
            key = " ".join(order)
            if key not in sorted_lists:
                sorted_lists[key] = raw.sort(order)
            raw.fetch(sorted_lists[key][page * 50:(page + 1) * 50], fields)

        for label, order, page in (("date p1", ["REVERSE", "DATE"], 0), ("date mid", ["REVERSE", "DATE"], middle),
                                   ("subject p1", ["SUBJECT"], 0), ("subject mid", ["SUBJECT"], middle)):
            figures[f"raw {label}"] = statistics.median(timed(lambda o=order, p=page: raw_page(o, p), args.repeat))
        for label, order, page in (("date mid", ["REVERSE", "DATE"], middle), ("subject mid", ["SUBJECT"], middle)):
            # A client that keeps its connection but not the sorted list: SORT and FETCH each page.
            figures[f"naive {label}"] = statistics.median(timed(
                lambda o=order, p=page: raw.fetch(raw.sort(o)[p * 50:(p + 1) * 50], fields), args.repeat))
        figures["raw SORT by date"] = statistics.median(timed(lambda: raw.sort(["REVERSE", "DATE"]), args.repeat))
        figures["raw quota"] = statistics.median(timed(lambda: raw.get_quota_root("INBOX"), args.repeat))
        # Each open reads a message never read before (Dovecot's caches are the web's too),
        # with the same IMAP work as the web's reading view (which also marks it read).
        unopened = iter(uids_by_date[len(uids_by_date) // 3:])

        def raw_open():
            uid = next(unopened)
            sidebar()
            raw.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
            raw.add_flags([uid], [b"\\Seen"], silent=True)

        figures["raw open"] = statistics.median(timed(raw_open, args.repeat))
        searches = itertools.cycle(range(7, args.messages, max(1, args.messages // 25)))
        figures["raw search"] = statistics.median(
            timed(lambda: raw.search(["BODY", f"marker{next(searches)}"]), min(args.repeat, 10)))
        raw.logout()

        web, port = start_web(stack)
        browser = Browser(port)
        browser.login(user, PASSWORD)
        web_figures = {}
        for label, query in (("date p1", "sort=date&page=1"), ("date mid", f"sort=date&page={middle + 1}"),
                             ("subject p1", "sort=subject&order=asc&page=1"),
                             ("subject mid", f"sort=subject&dir=asc&page={middle + 1}")):
            status, _, _ = browser.request("GET", f"/mail/INBOX/?{query}")
            if status != 200:
                raise SystemExit(f"list page {query}: HTTP {status}")
            web_figures[label] = statistics.median(
                timed(lambda q=query: browser.request("GET", f"/mail/INBOX/?{q}"), args.repeat))

        def web_open():
            status, _, _ = browser.request("GET", f"/mail/INBOX/{next(unopened)}/")
            if status != 200:
                raise SystemExit(f"open: HTTP {status}")

        web_figures["open"] = statistics.median(timed(web_open, args.repeat))
        status, _, _ = browser.request("GET", "/mail/INBOX/conversations/")  # THREAD once, then kept
        if status != 200:
            raise SystemExit(f"conversations: HTTP {status}")
        web_figures["conversations"] = statistics.median(
            timed(lambda: browser.request("GET", "/mail/INBOX/conversations/?page=2"), args.repeat))
        kept_kib = kept_connection_kib(stack, user)

        print(f"\n{'':14}{'web ms':>10}{'raw IMAP ms':>14}{'ratio':>8}")
        ratios = []
        for label in ("date p1", "date mid", "subject p1", "subject mid", "open"):
            raw_ms = figures[f"raw {label}"]
            ratio = web_figures[label] / raw_ms
            ratios.append(ratio)
            print(f"{label:14}{web_figures[label]:>10.1f}{raw_ms:>14.1f}{ratio:>8.2f}")
        print(f"conversations page (web, the threads kept): {web_figures['conversations']:.1f} ms")
        print(f"a kept idle connection with this folder's date order and threads: {kept_kib:.0f} KiB "
              f"(bound: {settings.IMAP_POOL_SIZE} connections a web process)")
        print(f"body search (FTS, raw IMAP): {figures['raw search']:.1f} ms")
        print(f"a SORT of the whole folder by date (raw IMAP, what the kept list saves): {figures['raw SORT by date']:.1f} ms")
        print(f"GETQUOTAROOT (raw IMAP, what the web asks once a minute): {figures['raw quota']:.1f} ms")
        naive = max(web_figures[k] / figures[f"naive {k}"] for k in ("date mid", "subject mid"))
        print(f"list page against a kept connection that SORTs each page (SORT + FETCH): "
              f"{figures['naive date mid']:.1f} / {figures['naive subject mid']:.1f} ms raw, worst ratio {naive:.2f}")
        page_ms = max(web_figures[k] for k in ("date p1", "date mid", "subject p1", "subject mid"))
        print(f"RESULT ratio={max(ratios):.2f} page_ms={page_ms:.1f} open_ms={web_figures['open']:.1f} "
              f"search_ms={figures['raw search']:.1f} kept_kib={kept_kib:.0f} ratio_sorting_client={naive:.2f}")
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        stack.stop()


if __name__ == "__main__":
    main()
