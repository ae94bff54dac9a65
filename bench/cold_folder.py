"""Benchmark: a folder's first look, in a new IMAP session right after its mail was delivered
(nothing read yet): THREAD=REFERENCES of the whole folder (the conversations view), SORT by
subject, and FETCH of one list page's rows (ENVELOPE BODYSTRUCTURE FLAGS). What Dovecot
caches at delivery (`mail_cache_fields` in deploy/dovecot/dovecot.conf) decides these.

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/cold_folder.py [--messages 10000]

Uses the bench member of bench/webmail_list.py (its database) with a throwaway mail store.
Last line: RESULT messages=<n> fill_s=<APPEND time> thread_ms=<first THREAD> sort_ms=<first SORT>
page_ms=<first FETCH of 50 rows>
"""

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webmail_list as kept  # noqa: E402  (its database, member and message generator)
from django.conf import settings  # noqa: E402
from imapclient import IMAPClient  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    if not kept.database_ready():
        kept.recreate_database()
    base = Path(tempfile.mkdtemp(prefix="duckmail-cold-"))
    stack = kept.servers.start(base=base, auth_policy_in_process=False)
    user = f"{kept.LOCAL}@{settings.SERVICE_DOMAIN}"

    def login() -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=stack.ports.imap, ssl=False, timeout=600)
        client.login(user, kept.PASSWORD)
        return client

    try:
        client = login()
        rng, start, batch = random.Random(5), datetime(2021, 1, 1, tzinfo=UTC), []
        began = time.perf_counter()
        for n in range(args.messages):
            raw, when = kept.message(n, rng, start)
            batch.append({"msg": raw, "flags": [], "date": when})
            if len(batch) == 500 or n == args.messages - 1:
                client.multiappend("INBOX", batch)
                batch = []
        fill_s = time.perf_counter() - began
        client.logout()
        figures = {}
        middle = args.messages // 2
        for label, work in (("thread", lambda c: c.thread("REFERENCES")), ("sort", lambda c: c.sort(["SUBJECT"])),
                            ("page", lambda c: c.fetch(list(range(middle, middle + 50)), ["ENVELOPE", "BODYSTRUCTURE",
                                                                                   "FLAGS"]))):
            client = login()  # each its own new session: nothing read before
            client.select_folder("INBOX")
            began = time.perf_counter()
            work(client)
            figures[label] = (time.perf_counter() - began) * 1000
            client.logout()
        print(f"{args.messages} messages delivered by APPEND in {fill_s:.1f} s")
        print(f"first THREAD {figures['thread']:.1f} ms, SORT by subject {figures['sort']:.1f} ms, "
              f"FETCH of a list page {figures['page']:.1f} ms")
        print(f"RESULT messages={args.messages} fill_s={fill_s:.1f} thread_ms={figures['thread']:.1f} "
              f"sort_ms={figures['sort']:.1f} page_ms={figures['page']:.1f}")
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
