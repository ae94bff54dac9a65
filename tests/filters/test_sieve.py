"""The Sieve library (filters.sieve): the form editor's scripts written and read back losslessly,
generated inputs that mean what was typed and compile on the real Dovecot, and the sievelib
extension that parses what plain sievelib refuses."""

import datetime as dt
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts import mailaccess
from duckmail.lib import managesieve
from filters import sieve
from filters.sieve import Action, Condition, RuleSet, SieveRule, Vacation, sievelib_ext

DEPLOY_SIEVE = Path(settings.BASE_DIR) / "deploy" / "sieve"

# Scripts members and the service page write, which sievelib 1.6 refuses out of the box.
SCRIPTS_SIEVELIB_REFUSED = {
    "service page threshold": (
        'require ["fileinto", "spamtestplus", "relational", "comparator-i;ascii-numeric"];\n'
        '# if SPAM score is >37% then move into the junk box\n'
        'if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "37" {\n  fileinto "Junk";\n}\n'
    ),
    "include once optional": 'require "include";\ninclude :personal :once :optional "extra";\nreturn;\n',
    "subaddress": 'require ["subaddress", "fileinto"];\nif address :detail "to" "lists" { fileinto "Lists"; }\n',
    "spamtest without percent": 'require ["spamtest", "relational", "comparator-i;ascii-numeric"];\n'
    'if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { discard; }\n',
    "editheader": 'require "editheader";\naddheader :last "X-Seen" "yes";\ndeleteheader :index 1 "X-Old";\n',
    "variables string": 'require "variables";\nif string :matches "${x}" "a*" { keep; }\n',
    "numeric size compare": 'require ["relational", "comparator-i;ascii-numeric"];\n'
    'if header :value "gt" :comparator "i;ascii-numeric" "X-Priority" "3" { keep; }\n',
}


@pytest.mark.parametrize("name", sorted(SCRIPTS_SIEVELIB_REFUSED))
def test_it_parses_what_plain_sievelib_refuses(name):
    assert sievelib_ext.parse(SCRIPTS_SIEVELIB_REFUSED[name])


@pytest.mark.parametrize("path", sorted(DEPLOY_SIEVE.glob("*.sieve")), ids=lambda p: p.name)
def test_it_parses_the_shipped_global_and_default_scripts(path):
    assert sievelib_ext.parse(path.read_text())


def test_it_reports_sievelib_errors_with_the_line():
    with pytest.raises(sievelib_ext.ParseFailed, match="line 3"):
        sievelib_ext.parse('require "fileinto";\n\nfileinto "A" "B";\n')


def test_installing_twice_does_not_duplicate_the_comparator():
    from sievelib import commands

    sievelib_ext.install()
    sievelib_ext.install()
    assert commands.comparator["extra_arg"]["values"].count('"i;ascii-numeric"') == 1


FULL = RuleSet(
    includes=["incoming_spam"],
    spam_threshold=37,
    vacation=Vacation(subject='Away "now"', body="Away.\nBack on Monday.", addresses=["a@duckmail.test"], days=3,
                      start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 10)),
    rules=[
        SieveRule(name="Boss", match="any", conditions=[
            Condition("from", "contains", "boss@"), Condition("to", "not_is", "x@y.z"),
            Condition("header", "regex", "^dev", header="list-id"), Condition("size", "over", "100K"),
            Condition("spam", "over", "50"), Condition("subject", "not_matches", "*[x]*"),
        ], actions=[Action("mark_read"), Action("flag"), Action("fileinto", "Work/Boss"), Action("stop")]),
        SieveRule(name="off", enabled=False, actions=[Action("discard")]),
        SieveRule(name="all mail", actions=[Action("copyto", "Archive"), Action("redirect", "a@b.org"),
                                            Action("redirect_copy", "c@d.org"), Action("reject", "No.\nThanks.")]),
    ],
)


def test_a_rule_set_written_by_the_editor_parses_back_losslessly():
    text = sieve.generate(FULL)
    assert sieve.parse(text) == FULL
    assert 'spamtest :percent :value "gt" :comparator "i;ascii-numeric" "37"' in text
    assert 'include :global "incoming_spam";' in text


def test_an_empty_rule_set_parses_back():
    assert sieve.parse(sieve.generate(RuleSet())) == RuleSet()


@pytest.mark.parametrize("script", [
    'require "fileinto";\nif header :contains "subject" "x" { fileinto "A"; }\n',
    'redirect "a@b.org";\n',
    'require "duplicate";\nif duplicate { discard; }\n',
    "this is not sieve",
])
def test_scripts_written_by_hand_are_not_representable(script):
    with pytest.raises(sieve.NotRepresentable):
        sieve.parse(script)


def test_an_editor_script_changed_by_hand_is_not_taken_for_an_editor_one():
    text = sieve.generate(FULL).replace('fileinto "Work/Boss";', 'fileinto "Work/Boss";\n    notify "mailto:x@y.z";')
    with pytest.raises(sieve.NotRepresentable):
        sieve.parse(text)
    text = sieve.generate(FULL).replace("# rule: \"off\"", "# rule: \"off\"\n# my note")
    with pytest.raises(sieve.NotRepresentable):
        sieve.parse(text)


def test_two_ways_of_saying_the_same_condition_read_back_as_one():
    typed = RuleSet(rules=[SieveRule(name="r", conditions=[Condition("header", "contains", "x", header="SUBJECT"),
                                                           Condition("header", "is", "y", header="X-Mailer")],
                                     actions=[Action("discard")])])
    assert sieve.parse(sieve.generate(typed)).rules[0].conditions == [
        Condition("subject", "contains", "x"), Condition("header", "is", "y", header="x-mailer")]


# Generated inputs: nothing typed can inject Sieve ------------------------------------

# Characters that matter to Sieve's syntax, mixed into arbitrary Unicode text. NUL is left
# out: Django's form fields refuse it (and PostgreSQL can not store it).
_SPECIAL = list('"\\\r\n\t*/${}#;[]():,') + ["${hex:41}", "*/", "/*", "text:", "\r\n.\r\n", "\x01", "\x7f"]
texts = st.lists(
    st.one_of(st.sampled_from(_SPECIAL), st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    max_size=12,
).map("".join)
nonempty = texts.filter(bool)
header_names = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1,
                       max_size=12)
addresses = st.from_regex(r"\A[a-z0-9][a-z0-9._+-]{0,8}@[a-z0-9]{1,8}\.(org|net)\Z")
text_ops = st.sampled_from([op for op in sieve.TEXT_OPS if "regex" not in op])
conditions = st.one_of(
    st.builds(Condition, field=st.sampled_from(["from", "to", "subject"]), op=text_ops, value=texts),
    st.builds(Condition, field=st.just("header"), op=text_ops, value=texts, header=header_names),
    st.builds(Condition, field=st.just("size"), op=st.sampled_from(["over", "under"]),
              value=st.from_regex(r"\A[1-9][0-9]{0,5}[KMG]?\Z")),
    st.builds(Condition, field=st.just("spam"), op=st.just("over"), value=st.integers(0, 99).map(str)),
)
actions = st.one_of(
    st.builds(Action, kind=st.sampled_from(["fileinto", "copyto"]), arg=nonempty),
    st.builds(Action, kind=st.sampled_from(["redirect", "redirect_copy"]), arg=addresses),
    st.builds(Action, kind=st.sampled_from(["discard", "stop", "mark_read", "flag"])),
)
rules = st.builds(SieveRule, name=texts, conditions=st.lists(conditions, max_size=3),
                  actions=st.lists(actions, min_size=1, max_size=3), match=st.sampled_from(["all", "any"]),
                  enabled=st.booleans())
reject_rules = st.builds(SieveRule, name=texts, conditions=st.lists(conditions, max_size=2),
                         actions=st.builds(lambda t: [Action("reject", t)], nonempty))
dates = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2040, 1, 1)))
vacations = st.one_of(st.none(), st.builds(Vacation, subject=texts, body=nonempty, addresses=st.lists(addresses, max_size=2),
                                          days=st.integers(1, 30), start=dates, end=dates))
rulesets = st.builds(RuleSet, includes=st.lists(st.just("incoming_spam"), max_size=1),
                     spam_threshold=st.one_of(st.none(), st.integers(0, 99)), vacation=vacations,
                     rules=st.lists(st.one_of(rules, reject_rules), max_size=3))


def _as_stored(rs: RuleSet) -> RuleSet:
    """What the editor keeps: LF line breaks in multi-line texts; match "all" without conditions;
    conditions in their canonical form (lower-case header names; "any header: Subject" is Subject)."""
    import copy

    rs = copy.deepcopy(rs)
    if rs.vacation:
        rs.vacation.body = sieve.normalize_multiline(rs.vacation.body)
    for r in rs.rules:
        r.conditions = [sieve.canonical_condition(c) for c in r.conditions]
        if not r.conditions:
            r.match = "all"
        for a in r.actions:
            if a.kind == "reject":
                a.arg = sieve.normalize_multiline(a.arg)
    return rs


@pytest.mark.django_db(transaction=True)
def test_generated_inputs_mean_what_was_typed_and_compile_on_dovecot(mail_stack, make_member):
    """Any text in any field: the script reads back as exactly the rule set that was typed,
    and Dovecot compiles it (so the text could not have broken out of its string)."""
    scripts: list[str] = []

    @given(rulesets)
    @hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def collect(rs):
        text = sieve.generate(rs)
        assert sieve.parse(text) == _as_stored(rs)
        scripts.append(text)

    collect()
    member = make_member(f"h{uuid.uuid4().hex[:10]}")
    failures = []
    # One ManageSieve connection for the whole batch: a login per script would dominate.
    with mailaccess.as_worker(), mailaccess.sieve(member) as session:
        for text in scripts:
            try:
                session.check(text)
            except managesieve.ScriptInvalid as exc:
                failures.append((str(exc), text))
    assert not failures, failures[:3]
