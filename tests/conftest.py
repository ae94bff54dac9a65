"""Fixtures every app's tests share (members, the throwaway mail servers, the browser), the marks
they give, and the session's test settings."""

import os

import hypothesis
import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

from accounts import services
from duckmail.celery import app as celery_app
from tests import servers
from tests.helpers import PASSWORD

# Tasks run inline in tests (tests/duckmail/test_celery.py runs a real worker on a queue of its own):
# nothing a test queues may linger in the shared Redis for some real worker to pick up.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True

# In CI, property-based tests replay the same examples every run: a submission is judged
# by one run, so it must not turn red by chance. Developers' runs keep exploring new ones.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")

# Until a test asks for the throwaway mail servers, nothing may reach the mail servers a
# developer runs on the default ports (`make run`): port 1 refuses every connection.
for _name in ("IMAP_PORT", "POP3_PORT", "MANAGESIEVE_PORT", "LMTP_PORT", "SMTP_PORT", "SUBMISSION_PORT"):
    setattr(settings, _name, 1)

# Django's cache is the real Redis, under keys of this run's own (parallel runs never meet).
settings.CACHES["default"]["KEY_PREFIX"] = f"duckmail-test:{os.getpid()}"

# Real Argon2id hashes, with cheap parameters: Dovecot verifies whatever parameters a
# hash carries, and the production cost (100 MiB, ~120 ms) would make the suite crawl.
Argon2PasswordHasher.memory_cost = 1024
Argon2PasswordHasher.time_cost = 1
Argon2PasswordHasher.parallelism = 1

# Marks each test gets from the fixtures it uses (directly or through other fixtures), so
# that `pytest -m "not mailstack and not browser"` runs the tests that need neither.
MARKS_FROM_FIXTURES = {
    "mailstack": {"_mail_stack_session", "mail_stack", "postfix", "relay_sink"},
    "postfix": {"postfix", "relay_sink"},
    "browser": {"browser", "page"},
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for mark, fixtures in MARKS_FROM_FIXTURES.items():
            if used & fixtures:
                item.add_marker(mark)


@pytest.fixture(scope="session")
def _mail_stack_session(django_db_setup, django_db_blocker):
    stack = servers.start()
    yield stack
    servers.cleanup(stack)


@pytest.fixture
def mail_stack(_mail_stack_session):
    """A real Dovecot on free loopback ports reading the test database (one per session).

    Each test starts with empty mailboxes: the database is emptied between tests, and
    so are the Maildirs of the (re-created) members.
    """
    from accounts import mailaccess

    _mail_stack_session.wipe_mailboxes()
    # The web's kept IMAP connections belong to the previous test's (deleted) sessions.
    mailaccess.web_pool.close_all()
    return _mail_stack_session


@pytest.fixture
def postfix(mail_stack):
    """The throwaway Postfix in front of Dovecot (started on first use)."""
    mail_stack.start_postfix()
    return mail_stack


@pytest.fixture
def as_worker():
    """Services called straight from the test reach Dovecot as a worker does (the master
    user as the member); requests made meanwhile still act as their web member."""
    from accounts import mailaccess

    with mailaccess.as_worker():
        yield


@pytest.fixture
def make_member(db):
    def make(local_part: str, password: str = PASSWORD, **fields):
        return services.create_member(local_part, password, **fields)

    return make


@pytest.fixture
def alice(make_member):
    return make_member("alice", display_name="Alice")


@pytest.fixture
def bob(make_member):
    return make_member("bob", display_name="Bob")


@pytest.fixture
def stranger(make_member):
    """A member who must never reach alice's things."""
    return make_member("mallory", display_name="Mallory")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


class RelaySink:
    """Collects what Postfix relays to 'the internet' (its relayhost, on loopback)."""

    def __init__(self):
        self.messages = []  # (envelope sender, recipients, bytes)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    def wait_for(self, count: int = 1, timeout: float = 20.0) -> list:
        """Wait until `count` messages arrived (Postfix delivers asynchronously)."""
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture(scope="session")
def _relay_controller(_mail_stack_session):
    from aiosmtpd.controller import Controller

    sink = RelaySink()
    controller = Controller(sink, hostname="127.0.0.1", port=_mail_stack_session.ports.relay)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def relay_sink(_relay_controller, postfix):
    """Outside mail relayed by the test Postfix lands here; emptied for each test."""
    _relay_controller.messages.clear()
    return _relay_controller


@pytest.fixture(autouse=True)
def _throttle_keys(settings):
    """Each test gets its own login-throttle keys in Redis (parallel runs and tests never
    share failure counts); they are deleted afterwards."""
    import uuid

    from accounts import throttle

    settings.THROTTLE_KEY_PREFIX = prefix = f"duckmail-test:{uuid.uuid4().hex}:"
    yield prefix
    try:
        client = throttle.client()
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    except Exception:  # Redis down: the test that needed it already failed
        pass


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (one per module that has browser tests)."""
    import os
    import shutil

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # test makes between page actions are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()
