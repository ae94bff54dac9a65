"""manage.py train_prior DIR: replace the site-wide prior with one trained from DIR/spam and DIR/ham."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from antispam import storage
from antispam.classifier import MemoryCounts
from antispam.tokens import tokenize


class Command(BaseCommand):
    help = "Replace the site-wide spam prior with one trained from DIR/spam and DIR/ham (one raw message per file)."

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path)

    def handle(self, *args, dir: Path, **options):
        start = time.perf_counter()
        folders = {spam: dir / ("spam" if spam else "ham") for spam in (True, False)}
        for folder in folders.values():
            if not folder.is_dir():
                raise CommandError(f"{folder} is not a directory (DIR must hold spam/ and ham/)")
        model = MemoryCounts()
        for spam, folder in folders.items():
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    model.learn(tokenize(path.read_bytes()), spam)
        if not model.nspam or not model.nham:
            raise CommandError("the prior needs at least one spam and one ham message")
        with transaction.atomic():
            storage.replace_prior(model.tokens, int(model.nspam), int(model.nham))
        self.stdout.write(f"prior trained: {int(model.nspam)} spam, {int(model.nham)} ham, "
                          f"{len(model.tokens)} tokens in {time.perf_counter() - start:.1f} s")
