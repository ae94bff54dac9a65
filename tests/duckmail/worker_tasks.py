"""Tasks that only the test workers load (`celery worker --include tests.duckmail.worker_tasks`)."""

import os
import signal
from pathlib import Path

from celery import shared_task


@shared_task
def killed_on_first_run(marker: str) -> str:
    """The first run dies as a child killed by the OOM killer would (SIGKILL, mid-task); later runs finish."""
    path = Path(marker)
    if not path.exists():
        path.write_text("started")
        os.kill(os.getpid(), signal.SIGKILL)
    return "finished"
