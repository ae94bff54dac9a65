"""Queueing Celery tasks by name: the one way services hand work to the workers.

By name (`"accounts.tasks.deliver_outbox_mail"`), so that a services module never
imports its own app's tasks module (which imports the services back). Mostly on commit:
a worker must never look for a row the web has not committed yet.
"""

import logging

from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def enqueue(task_name: str, *args) -> None:
    """Queue a task now; with the broker down, log it rather than fail the change already made."""
    try:
        # retry=False: with Redis down, a page must not wait for kombu's publish retries.
        import_string(task_name).apply_async(args, retry=False)
    except Exception as exc:  # kombu raises several kinds when Redis is unreachable
        log.error("could not queue %s%s: %s", task_name, args, exc)


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue a task once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(task_name, *args))
