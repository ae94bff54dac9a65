"""Benchmark and robustness check: the reading view's parser and sanitiser on a directory of
real messages (by default the public SpamAssassin corpus in ../shared/corpus: 2002–2005 mail in
every charset and MIME shape of its time). Nothing may raise, hang, or leave an RFC 2047
`=?…?=` word or U+FFFD in a subject or name; prints the slowest messages and what was found.

    DUCKMAIL_DEBUG=1 .venv/bin/python bench/render_corpus.py [DIR] [--limit N]

Last line: RESULT messages=<n> failures=<raised> encoded_words=<left in subjects/names>
replacement_chars=<U+FFFD in subjects/names> headerless=<read with neither From nor Subject>
median_ms=<parse+sanitise> max_ms=<slowest>
"""

import argparse
import os
import re
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DUCKMAIL_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

import django  # noqa: E402

django.setup()

from webmail import render  # noqa: E402
from webmail.render import sanitize  # noqa: E402

ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    files = sorted(p for p in Path(args.dir).rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", ""))
    files = [p for p in files if p.name.lower() != "readme"]
    if args.limit:
        files = files[:args.limit]
    times, failures, encoded, replaced, headerless = [], [], [], [], []
    for path in files:
        raw = path.read_bytes()
        began = time.perf_counter()
        try:
            msg = render.parse(raw)
            if msg.html_body:
                sanitize.sanitize(msg.html_body)
        except Exception:  # noqa: BLE001 — every failure is what this script reports
            failures.append((path, traceback.format_exc(limit=3)))
            continue
        times.append(((time.perf_counter() - began) * 1000, path))
        if not msg.from_ and not msg.subject:
            headerless.append(path)  # read as all body: the headers were not found
        shown = [msg.subject] + [name for name, _address in msg.from_ + msg.to + msg.cc]
        shown += [a.filename or "" for a in msg.attachments]
        if any(ENCODED_WORD.search(text or "") for text in shown):
            encoded.append((path, [t for t in shown if ENCODED_WORD.search(t or "")]))
        if any("\ufffd" in (text or "") for text in shown):
            replaced.append((path, [t for t in shown if "\ufffd" in (t or "")]))
    for path, trace in failures[:10]:
        print(f"RAISED {path}:\n{trace}")
    for path, texts in encoded[:15]:
        print(f"ENCODED WORD LEFT {path}: {texts}")
    for path, texts in replaced[:15]:
        print(f"U+FFFD {path}: {texts}")
    for path in headerless[:10]:
        print(f"NO HEADERS FOUND {path}")
    slowest = sorted(times, reverse=True)[:5]
    for ms, path in slowest:
        print(f"slow: {ms:.1f} ms {path}")
    values = [ms for ms, _path in times] or [0.0]
    print(f"RESULT messages={len(files)} failures={len(failures)} encoded_words={len(encoded)} "
          f"replacement_chars={len(replaced)} headerless={len(headerless)} "
          f"median_ms={statistics.median(values):.2f} max_ms={max(values):.1f}")


if __name__ == "__main__":
    main()
