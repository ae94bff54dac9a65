"""Fixtures of the mail-server tests: a mail stack over a PostgreSQL of its own, for outage tests."""

import pytest

from tests import private_postgres


@pytest.fixture(scope="module")
def outage_stack():
    """A private PostgreSQL (stopped, started and frozen at will, never the machine's 5432), a
    Dovecot, Postfix, auth policy server and database watcher reading only it; alice has an app
    password. One per module; torn down even when a test fails."""
    stack = private_postgres.start_outage_stack(("alice",))
    try:
        yield stack
    finally:
        private_postgres.stop_outage_stack(stack)


@pytest.fixture
def database(outage_stack):
    """The private server, running at the start of each test and again after it."""
    outage_stack.postgres.thaw()
    outage_stack.postgres.start_if_stopped()
    yield outage_stack.postgres
    outage_stack.postgres.thaw()
    outage_stack.postgres.start_if_stopped()
