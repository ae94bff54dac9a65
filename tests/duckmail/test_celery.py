"""Celery runs for real: a worker and beat over Redis, against the test database and Dovecot."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Member
from accounts.tasks import refresh_all_quota_usage
from tests.helpers import lmtp_send, make_mail
from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)


def celery_env(queue: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DUCKMAIL_DEBUG": "1",
        "DUCKMAIL_DB_NAME": connection.settings_dict["NAME"],
        "DUCKMAIL_CELERY_QUEUE": queue,
        "DUCKMAIL_IMAP_PORT": str(settings.IMAP_PORT),
        "DUCKMAIL_LMTP_PORT": str(settings.LMTP_PORT),
        "DUCKMAIL_MAILCONFIG_DIR": settings.MAILCONFIG_DIR,
        "DUCKMAIL_SECRET_KEY": settings.SECRET_KEY,
    })
    return env


@pytest.fixture
def queue(settings):
    name = f"duckmail-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    from duckmail.celery import app

    app.conf.task_default_queue = name
    app.conf.task_always_eager = False  # conftest runs tasks inline; here a real worker does
    yield name
    app.conf.task_default_queue = "duckmail"
    app.conf.task_always_eager = True


def start(args: list[str], env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "duckmail", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)


def test_the_periodic_quota_refresh_runs_on_a_real_worker(mail_stack, alice, bob, queue, tmp_path):
    lmtp_send("alice@duckmail.test", make_mail("alice@duckmail.test", "Big", "duck " * 50_000))
    log = open(tmp_path / "worker.log", "w")
    worker = start(["worker", "-Q", queue, "--concurrency", "1", "--pool", "solo", "--without-heartbeat",
                    "--without-gossip", "--without-mingle"], celery_env(queue), log)
    try:
        result = refresh_all_quota_usage.delay()
        assert result.get(timeout=30) == 2
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if Member.objects.filter(quota_checked_at__isnull=False).count() == 2:
                break
            time.sleep(0.2)
        alice.refresh_from_db()
        assert alice.quota_checked_at is not None, (tmp_path / "worker.log").read_text()
        assert alice.quota_used_kb > 200
    finally:
        worker.terminate()
        worker.wait(20)


def test_beat_installs_the_quota_refresh_schedule_in_the_database(mail_stack, queue, tmp_path):
    from django_celery_beat.models import PeriodicTask

    log = open(tmp_path / "beat.log", "w")
    beat = start(["beat", "--schedule", str(tmp_path / "beat-schedule"), "--pidfile", ""], celery_env(queue), log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not PeriodicTask.objects.filter(name="refresh-quota-usage").exists():
            time.sleep(0.2)
        task = PeriodicTask.objects.get(name="refresh-quota-usage")
        assert task.task == "accounts.tasks.refresh_all_quota_usage" and task.enabled
        assert task.interval.every == settings.CELERY_BEAT_SCHEDULE["refresh-quota-usage"]["schedule"]
    finally:
        beat.terminate()
        beat.wait(20)


def test_with_redis_down_queueing_gives_up_quickly_and_the_change_stands(tmp_path):
    # A page that queues work (quota refresh, notices) must not hang for kombu's retries.
    script = (
        "import time\n"
        "from duckmail.queue import enqueue\n"
        "t = time.monotonic()\n"
        "enqueue('accounts.tasks.refresh_quota_usage', 1)\n"
        "print('took', round(time.monotonic() - t, 1))\n"
    )
    env = dict(os.environ, DUCKMAIL_DEBUG="1", DUCKMAIL_REDIS_URL="redis://127.0.0.1:1/0")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], env=env, cwd=settings.BASE_DIR,
                            capture_output=True, text=True, timeout=60)
    assert "could not queue accounts.tasks.refresh_quota_usage" in result.stderr + result.stdout
    took = float(result.stdout.split("took")[1])
    assert took < 10, took


class ThrowawayRedis:
    """A redis-server of the test's own on a free loopback port, stopped and started at will (never 6379)."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.dir)],
            cwd=self.dir, stdout=open(self.dir / "redis.log", "a"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def wait_for_log(path, text: str, proc: subprocess.Popen, timeout: float = 30, count: int = 1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.read_text().count(text) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in the log (exit code {proc.poll()}):\n{path.read_text()}")


def test_a_worker_survives_a_redis_outage_and_runs_work_queued_after_it(redis_server, queue, tmp_path):
    from celery import Celery

    # As `make run` starts it (prefork, gossip, mingle, heartbeats), against a Redis of the test's own.
    env = dict(celery_env(queue), DUCKMAIL_REDIS_URL=redis_server.url, DUCKMAIL_THROTTLE_REDIS_URL=redis_server.url)
    log_path = tmp_path / "worker.log"
    worker = start(["worker", "-Q", queue, "--loglevel", "INFO", "--concurrency", "2"], env, open(log_path, "w"))
    client = Celery("outage-test", broker=redis_server.url, backend=redis_server.url)
    client.conf.update(task_default_queue=queue, broker_connection_timeout=2, result_expires=60)
    try:
        wait_for_log(log_path, "ready.", worker)
        assert client.send_task("accounts.tasks.purge_expired_mail_tokens").get(timeout=20) == 0
        # A task waiting for its countdown (as retries do) is an unacknowledged message the worker
        # holds when Redis goes: putting it back on the lost connection used to kill the worker.
        client.send_task("accounts.tasks.purge_expired_mail_tokens", countdown=600)
        wait_for_log(log_path, "received", worker, timeout=10, count=2)

        redis_server.stop()
        time.sleep(3)  # the worker notices and retries meanwhile
        redis_server.start()

        assert worker.poll() is None, log_path.read_text()
        result = client.send_task("accounts.tasks.purge_expired_mail_tokens")
        assert result.get(timeout=30) == 0, log_path.read_text()
        assert worker.poll() is None and "Unrecoverable error" not in log_path.read_text()
    finally:
        client.close()
        worker.terminate()
        worker.wait(20)


def test_a_task_whose_worker_child_is_killed_mid_task_runs_again(redis_server, queue, tmp_path):
    # acks_late alone acknowledges the message of a child killed mid-task (OOM killer, a
    # deploy's SIGKILL) as failed: the work would be gone. It must go back to the queue.
    from celery import Celery

    env = dict(celery_env(queue), DUCKMAIL_REDIS_URL=redis_server.url, DUCKMAIL_THROTTLE_REDIS_URL=redis_server.url)
    log_path = tmp_path / "worker.log"
    worker = start(["worker", "-Q", queue, "--loglevel", "INFO", "--concurrency", "1",
                    "--include", "tests.duckmail.worker_tasks"], env, open(log_path, "w"))
    client = Celery("lost-child-test", broker=redis_server.url, backend=redis_server.url)
    client.conf.update(task_default_queue=queue, broker_connection_timeout=2, result_expires=60)
    marker = tmp_path / "ran-once"
    try:
        wait_for_log(log_path, "ready.", worker)
        result = client.send_task("tests.duckmail.worker_tasks.killed_on_first_run", args=[str(marker)])
        assert result.get(timeout=60) == "finished", log_path.read_text()
        assert marker.exists()
    finally:
        client.close()
        worker.terminate()
        worker.wait(20)
