"""Throwaway mail servers for the test session: a real Dovecot (and Postfix on demand).

Configs come from the same generator production uses (mailstack.config), in the
`test` variant, on free loopback ports, reading the test database.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mailstack import config as mailconfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class MailStack:
    dir: Path
    ports: mailconfig.Ports
    dovecot: subprocess.Popen | None = None
    postfix_started: bool = False
    # Our auth policy server (accounts.authpolicy): a thread of this process, so that it reads
    # the settings (and throttle key prefix) each test sets; or a process (benchmarks).
    auth_policy: object | None = None
    # The From: check (manage.py run_sender_check) Postfix's submission and reinjection ask.
    sender_check: subprocess.Popen | None = None

    @property
    def dovecot_conf(self) -> Path:
        return self.dir / "dovecot" / "dovecot.conf"

    @property
    def postfix_dir(self) -> Path:
        return self.dir / "postfix"

    @property
    def vmail(self) -> Path:
        return self.dir / "vmail"

    def log(self, name: str = "dovecot") -> str:
        path = self.dir / "log" / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def doveadm(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["doveadm", "-c", str(self.dovecot_conf), *args], capture_output=True, text=True)

    def wipe_mailboxes(self) -> None:
        for child in self.vmail.iterdir():
            shutil.rmtree(child, ignore_errors=True)

    def start_dovecot(self) -> None:
        self.dovecot = subprocess.Popen(["dovecot", "-F", "-c", str(self.dovecot_conf)])
        for port in (self.ports.imap, self.ports.lmtp, self.ports.managesieve, self.ports.pop3):
            wait_for_port(port, proc=self.dovecot)

    def start_auth_policy(self, in_process: bool = True) -> None:
        if in_process:
            from accounts import authpolicy

            self.auth_policy = authpolicy.start_in_thread(self.ports.auth_policy)
        else:
            env = {**os.environ, "DUCKMAIL_DB_NAME": settings.DATABASES["default"]["NAME"],
                   "DUCKMAIL_THROTTLE_KEY_PREFIX": settings.THROTTLE_KEY_PREFIX}
            self.auth_policy = subprocess.Popen(
                [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_auth_policy",
                 "--port", str(self.ports.auth_policy)], env=env, stdout=subprocess.DEVNULL)
            wait_for_port(self.ports.auth_policy, proc=self.auth_policy)

    def stop_auth_policy(self) -> None:
        if isinstance(self.auth_policy, subprocess.Popen):
            self.auth_policy.terminate()
            self.auth_policy.wait(10)
        elif self.auth_policy is not None:
            self.auth_policy.shutdown()
            self.auth_policy.server_close()
        self.auth_policy = None

    def start_sender_check(self, **env: str) -> None:
        """The milter process, reading the test database (`env`: more DUCKMAIL_* variables)."""
        env = {**os.environ, "DUCKMAIL_DB_NAME": settings.DATABASES["default"]["NAME"], **env}
        with open(self.dir / "log" / "sender-check.log", "ab") as log:
            self.sender_check = subprocess.Popen(
                [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_sender_check",
                 "--port", str(self.ports.sender_check)], env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.ports.sender_check, proc=self.sender_check)

    def stop_sender_check(self) -> None:
        if self.sender_check is not None and self.sender_check.poll() is None:
            self.sender_check.terminate()
            try:
                self.sender_check.wait(10)
            except subprocess.TimeoutExpired:
                self.sender_check.kill()
        self.sender_check = None

    def start_postfix(self) -> None:
        if self.postfix_started:
            return
        self.start_sender_check()
        result = subprocess.run(["postfix", "-c", str(self.postfix_dir), "start"], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"postfix did not start: {result.stderr}\n{self.log('postfix')}")
        self.postfix_started = True
        wait_for_port(self.ports.smtp)
        wait_for_port(self.ports.submission)
        wait_for_port(self.ports.reinject)

    def stop(self) -> None:
        self.stop_auth_policy()
        if self.postfix_started:
            subprocess.run(["postfix", "-c", str(self.postfix_dir), "stop"], capture_output=True)
        if self.dovecot is not None and self.dovecot.poll() is None:
            self.dovecot.send_signal(signal.SIGTERM)
            try:
                self.dovecot.wait(10)
            except subprocess.TimeoutExpired:
                self.dovecot.kill()
        self.stop_sender_check()


def start(*, auth_policy_in_process: bool = True, base: Path | None = None) -> MailStack:
    """A Dovecot (and, on demand, Postfix) on free ports; in `base` if given (a benchmark's
    mail kept between runs), else in a new temporary directory."""
    if base is None:
        # Not pytest's tmp_path: its 0700 parents keep the mail uid and Postfix out.
        base = Path(tempfile.mkdtemp(prefix="duckmail-test-", dir="/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    ports = mailconfig.Ports(
        imap=free_port(), pop3=free_port(), managesieve=free_port(), lmtp=free_port(), auth=free_port(),
        smtp=free_port(), submission=free_port(), reinject=free_port(), relay=free_port(), auth_policy=free_port(),
        sender_check=free_port(),
    )
    mailconfig.generate(base, variant="test", ports=ports, instance_name=f"duckmail-test-{base.name}")
    stack = MailStack(dir=base, ports=ports)
    # Everything that talks to the mail servers reads these settings.
    settings.IMAP_PORT = ports.imap
    settings.POP3_PORT = ports.pop3
    settings.MANAGESIEVE_PORT = ports.managesieve
    settings.LMTP_PORT = ports.lmtp
    settings.DOVECOT_AUTH_PORT = ports.auth
    settings.SMTP_PORT = ports.smtp
    settings.REINJECT_PORT = ports.reinject
    settings.SUBMISSION_PORT = ports.submission
    settings.MAILCONFIG_DIR = str(base)
    settings.AUTH_POLICY_PORT = ports.auth_policy
    stack.start_auth_policy(in_process=auth_policy_in_process)
    stack.start_dovecot()
    return stack


def cleanup(stack: MailStack) -> None:
    stack.stop()
    if not os.environ.get("DUCKMAIL_KEEP_TEST_MAILSTACK"):
        shutil.rmtree(stack.dir, ignore_errors=True)
