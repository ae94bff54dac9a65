"""Benchmark: Junk expiry (antispam.expiry) over many members' Junk folders at once, against
the real Dovecot: 100 members × 1,000 messages (100,000) with delivery dates (INTERNALDATE, set
by APPEND) spread over 60 days and mixed flags, every Date header the same old date. Then every
Junk folder is expired as the workers do it (the master user), timed, and what is left is
checked message by message against the rules: wrong = purged that should stay + kept that
should go.

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/expiry.py [--members 100] [--per-member 1000] [--concurrency 4]

The time goes to UID EXPUNGE, and most of it to the full-text index (fts-xapian removes each
expunged message from it, even in Junk, which it never indexes): ~1.1 ms a message, against
~0.1 ms without the fts plugins.

A throwaway database (`duckmail_bench_expiry`) and mail store, both removed afterwards.
Last line: RESULT seconds=<expiry of every folder> wrong=<n> messages=<n>
"""

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DUCKMAIL_DEBUG", "1")
os.environ["DUCKMAIL_DB_NAME"] = os.environ.get("DUCKMAIL_BENCH_DB_NAME", "duckmail_bench_expiry")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests import servers  # noqa: E402

PASSWORD = "correct horse battery staple 42"
DAY = 24 * 3600


def database(action: str) -> None:
    db = connection.settings_dict
    connection.close()
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def should_stay(age: float, flags: set[bytes]) -> bool:
    """The rules, written out apart from antispam.expiry (ages in seconds)."""
    if b"\\Deleted" in flags:
        return age <= 1 * DAY
    if b"\\Flagged" in flags:
        return True
    return age <= (7 if b"\\Seen" in flags else 30) * DAY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--per-member", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="members expired at once (the workers' pool)")
    args = parser.parse_args()
    database("create")
    call_command("migrate", verbosity=0)
    # Members' passwords are never checked here (the master user appends and expires).
    Argon2PasswordHasher.memory_cost, Argon2PasswordHasher.time_cost, Argon2PasswordHasher.parallelism = 1024, 1, 1
    from accounts import mailaccess, services
    from antispam import services as antispam

    members = [services.create_member(f"junk{n:03d}", PASSWORD) for n in range(args.members)]
    base = Path(tempfile.mkdtemp(prefix="duckmail-expiry-"))
    stack = servers.start(base=base, auth_policy_in_process=False)
    now = dt.datetime.now(dt.UTC)
    expected: dict[str, dict[str, bool]] = {}
    try:
        rng = random.Random(42)
        began = time.perf_counter()
        with mailaccess.as_worker():
            for member in members:
                batch, stays = [], {}
                for n in range(args.per_member):
                    # Ages away from the rules' edges by a margin: the run itself takes minutes.
                    age = rng.choice([rng.uniform(0, 0.9), rng.uniform(1.1, 6.9), rng.uniform(7.1, 29.9),
                                      rng.uniform(30.1, 60)]) * DAY
                    flags = {f for f, p in ((b"\\Seen", 0.6), (b"\\Flagged", 0.1), (b"\\Deleted", 0.1))
                             if rng.random() < p}
                    subject = f"spam {member.pk}-{n}"
                    stays[subject] = should_stay(age, flags)
                    raw = (f"From: Spammer <s{n}@example.net>\r\nTo: {member.email}\r\nSubject: {subject}\r\n"
                           f"Date: Mon, 01 Jan 2001 00:00:00 +0000\r\n\r\nBuy now.\r\n").encode()
                    batch.append({"msg": raw, "flags": sorted(flags), "date": now - dt.timedelta(seconds=age)})
                with mailaccess.imap(member) as client:
                    for i in range(0, len(batch), 500):
                        client.multiappend("Junk", batch[i:i + 500])
                expected[member.email] = stays
            print(f"{args.members * args.per_member} messages in {args.members} Junk folders "
                  f"in {time.perf_counter() - began:.1f} s")

            # As Celery runs it: one task per member, `--concurrency` at a time (a worker's pool).
            def expire(member) -> int:
                with mailaccess.as_worker():  # a thread of its own: bind the worker again
                    return antispam.expire_junk(member).total

            began = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                purged = sum(pool.map(expire, members))
            seconds = time.perf_counter() - began
            print(f"expiry of every Junk folder, {args.concurrency} at a time: {seconds:.1f} s ({purged} purged)")

            wrong = 0
            for member in members:
                with mailaccess.imap(member) as client:
                    client.select_folder("Junk", readonly=True)
                    uids = client.search("ALL")
                    left = set()
                    for i in range(0, len(uids), 2000):
                        for data in client.fetch(uids[i:i + 2000], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values():
                            left.add(bytes(data[b"BODY[HEADER.FIELDS (SUBJECT)]"]).decode().split(":", 1)[1].strip())
                stays = expected[member.email]
                wrong += sum(1 for subject, stay in stays.items() if stay != (subject in left))
        print(f"RESULT seconds={seconds:.1f} wrong={wrong} messages={args.members * args.per_member}")
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)
        database("drop")


if __name__ == "__main__":
    main()
