"""The ManageSieve client (duckmail.lib.managesieve): the server's error text read as message and line,
and on the real Dovecot warnings, refusals, a wrong password and an unreachable server."""

import uuid

import pytest

from accounts import mailaccess
from duckmail.lib import managesieve


def test_the_servers_error_text_gives_message_and_line():
    exc = managesieve.parse_server_errors(
        "line 3: error: unknown command 'fileintoo' (only reported once at first occurrence).\r\n"
        "error: validation failed.\r\n"
    )
    assert exc.line == 3
    assert exc.message.startswith("unknown command 'fileintoo'")
    assert str(exc).startswith("line 3: unknown command")
    named = managesieve.parse_server_errors("x: line 1: error: included global script 'nope' does not exist.\r\n")
    assert named.line == 1 and "nope" in named.message


@pytest.mark.django_db(transaction=True)
def test_a_warning_from_the_server_does_not_garble_the_next_answer(mail_stack, make_member):
    # sievelib leaves the literal after "OK (WARNINGS) {N}" unread; the module reads it.
    member = make_member(f"w{uuid.uuid4().hex[:10]}")
    with mailaccess.as_worker(), mailaccess.sieve(member) as s:
        result = s.put("warned", 'require "vacation";\nvacation :days 0 "away";\n')
        assert any("days" in w for w in result.warnings)
        assert s.get("warned").strip() == 'require "vacation";\nvacation :days 0 "away";'
        assert s.list().names == ["warned"]


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_server_is_reported_as_such(mail_stack, make_member, settings):
    from tests.servers import free_port

    member = make_member(f"u{uuid.uuid4().hex[:10]}")
    settings.MANAGESIEVE_PORT = free_port()
    with pytest.raises(managesieve.SieveUnavailable):
        with mailaccess.as_worker(), mailaccess.sieve(member):
            pass


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_not_taken_for_an_invalid_script(mail_stack, make_member):
    member = make_member(f"p{uuid.uuid4().hex[:10]}")
    with pytest.raises(managesieve.SieveUnavailable, match="refused the login"):
        with managesieve.session(member.email, "wrong password"):
            pass


@pytest.mark.django_db(transaction=True)
def test_a_refusal_leaves_no_stale_error_behind(mail_stack, make_member):
    # sievelib keeps the last error message after later successes: only return values count.
    member = make_member(f"s{uuid.uuid4().hex[:10]}")
    with mailaccess.as_worker(), mailaccess.sieve(member) as s:
        with pytest.raises(managesieve.ScriptInvalid):
            s.check("fileintoo;")
        assert s.put("fine", "keep;\n").warnings == []
        s.activate("fine")
        assert s.list().active == "fine"
        with pytest.raises(managesieve.SieveRefused):
            s.get("missing")
        assert s.get("fine").strip() == "keep;"


@pytest.mark.django_db(transaction=True)
def test_an_include_of_a_missing_global_script_is_refused_with_its_line(mail_stack, make_member):
    member = make_member(f"i{uuid.uuid4().hex[:10]}")
    script = 'require "include";\n# the rules the service offers\ninclude :global "incoming_spam";\n\ninclude :global "nope";\nkeep;\n'
    with mailaccess.as_worker(), mailaccess.sieve(member) as s:
        with pytest.raises(managesieve.ScriptInvalid) as refused:
            s.put("mine", script)
        assert refused.value.line == 5
        assert str(refused.value) == "line 5: included global script 'nope' does not exist"
        assert "mine" not in s.list().names
