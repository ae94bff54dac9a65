"""Scripts the form editor did not write (Roundcube, KMail, Nextcloud Mail, SnappyMail, by hand),
read into rules and verbatim raw blocks (filters.sieve.document), and written back: unchanged they
are the original bytes; an edited rule changes only its own text."""

import copy
import datetime as dt
from pathlib import Path

import pytest

from filters.sieve import Action, Condition, SieveRule, Vacation, document

FIXTURES = Path(__file__).parent / "fixtures"
ALL = sorted(FIXTURES.glob("*.sieve"))


def fixture(name: str) -> str:
    # newline="": the bytes as they are (snappymail.sieve has CRLF line endings).
    return (FIXTURES / name).read_bytes().decode("utf-8")


def rules(items):
    return [i for i in items if i.kind == "rule"]


def kinds(items):
    return [i.kind for i in items]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_script_read_and_written_back_unchanged_is_the_same_bytes(path):
    text = path.read_bytes().decode("utf-8")
    items = document.read(text)
    assert "".join(i.text for i in items) == text
    assert document.render(items) == text
    assert document.render(document.read(text)).encode("utf-8") == path.read_bytes()


def test_roundcube_rules_names_disabled_rule_create_copy_flags_and_its_vacation():
    items = document.read(fixture("roundcube.sieve"))
    assert kinds(items) == ["require", "rule", "rule", "rule", "vacation", "rule"]
    boss, old, archive, spam = (i.rule for i in rules(items))
    assert boss == SieveRule(
        name="Boss", match="any",
        conditions=[Condition("from", "contains", "boss@example.org"), Condition("subject", "contains", "urgent")],
        actions=[Action("flag"), Action("fileinto", "Work", create=True), Action("stop")])
    # `if false # <test>`: Roundcube's disabled rule, its conditions read from the comment.
    assert old == SieveRule(name="Old newsletter", enabled=False,
                            conditions=[Condition("header", "contains", "news.example.org", header="list-id")],
                            actions=[Action("fileinto", "Lists/News")])
    assert archive == SieveRule(name="Archive copy", actions=[Action("copyto", "Archive")])
    assert spam.name == "Spam"
    vacation = items[4].vacation
    assert vacation == Vacation(subject="Away until 14 July", body="I am away until 14 July.\nI will answer when I am back.",
                                addresses=["member@duckmail.test"], days=7, start=dt.date(2030, 7, 1),
                                end=dt.date(2030, 7, 14))


def test_hand_written_chains_envelope_subaddress_spamtest_duplicate_and_comments():
    items = document.read(fixture("handwritten_chains.sieve"))
    assert kinds(items) == ["require", "rule", "rule", "rule", "rule", "rule", "rule"]
    chain = rules(items)[:4]
    assert [i.branch for i in chain] == ["if", "elsif", "elsif", "else"]
    assert chain[0].rule.conditions == [Condition("env_to", "is", "lists", part="detail")]
    assert chain[1].rule.conditions == [Condition("from", "is", "shop.example.org", part="domain")]
    assert chain[1].rule.actions == [Action("fileinto", "Shopping"), Action("addflag", "\\Seen $Shop")]
    assert chain[2].rule.conditions == [Condition("spam", "at_least", "80")]
    assert chain[3].rule.conditions == [] and chain[3].rule.actions == [Action("keep")]
    duplicate, envelope = rules(items)[4:]
    assert duplicate.rule.conditions == [Condition("duplicate", "yes", "")]
    assert "/* Drop copies of mail already delivered" in duplicate.lead  # the comment stays with its rule
    assert envelope.rule.conditions == [Condition("env_from", "is", "", part="all")]
    assert envelope.rule.actions == [Action("removeflag", "\\Flagged")]


def test_what_does_not_fit_stays_raw_verbatim():
    text = fixture("handwritten_raw.sieve")
    items = document.read(text)
    assert kinds(items) == ["require", "raw", "raw", "raw", "rule", "rule", "raw"]
    raws = [i.text for i in items if i.kind == "raw"]
    assert 'set "ticket" "${2}";' in raws[0]  # variables
    assert raws[1].lstrip().startswith("foreverypart {")
    assert "anyof (header :is" in raws[2]  # a nested test
    assert raws[3] == "keep;"  # a top-level action, last line without a newline
    size, regex = rules(items)
    assert size.rule.conditions == [Condition("size", "over", "5M")] and size.tail == " # big mail\n"
    assert regex.rule.conditions == [Condition("subject", "regex", "^\\[list-[0-9]+\\]")]


def test_kmail_rule_with_setflag_and_its_vacation_stays_raw():
    items = document.read(fixture("kmail.sieve"))
    assert kinds(items) == ["require", "rule", "raw"]
    (club,) = rules(items)
    assert club.rule.name == "Mailing list of the club"
    assert club.rule.actions == [Action("fileinto", "Lists"), Action("setflag", "\\Seen")]
    # KMail's reply is conditioned on a spam header, which the automatic reply can not hold.
    assert "vacation :addresses" in items[2].text


def test_sections_other_programs_manage_stay_raw_with_their_label():
    items = document.read(fixture("nextcloud.sieve"))
    assert kinds(items) == ["raw", "require", "rule", "raw"]
    assert items[0].label == items[3].label == "Nextcloud Mail: Vacation Responder"
    assert rules(items)[0].rule == SieveRule(name="Marketing",
                                             conditions=[Condition("from", "is", "marketing@example.org", part="all")],
                                             actions=[Action("fileinto", "Marketing")])
    items = document.read(fixture("snappymail.sieve"))
    assert [i.label for i in items if i.kind == "raw" and i.label] == ["SnappyMail filter “Invoices”"]
    assert [i.rule.name for i in rules(items)] == ["Hand-added below the managed part"]


def test_editing_one_rule_changes_only_that_rules_text():
    text = fixture("roundcube.sieve")
    items = document.read(text)
    boss = rules(items)[0]
    boss.rule.actions[1] = Action("fileinto", "Work/Boss", create=True)
    out = document.render(items)
    before, after = text.split("# rule:[Old newsletter]")
    assert out.endswith("# rule:[Old newsletter]" + after)
    assert out.startswith('require ["fileinto","copy","imap4flags","mailbox","date","relational","vacation"];\n# rule:[Boss]\n')
    assert 'fileinto :create "Work/Boss";' in out and '"Work"' not in out.split("# rule:[Old newsletter]")[0]
    # And it reads back as the edited rule.
    assert rules(document.read(out))[0].rule == boss.rule


def test_an_edit_that_needs_a_new_extension_adds_it_to_require_only():
    text = fixture("nextcloud.sieve")
    items = document.read(text)
    marketing = rules(items)[0]
    marketing.rule.actions.append(Action("mark_read"))
    out = document.render(items)
    assert '\nrequire ["fileinto", "imap4flags"];\n' in out
    assert out.count("### Nextcloud Mail: Vacation Responder ### DON'T EDIT ###") == 4
    assert out.split("# Marketing")[0].split("require")[1:4] == text.split("# Marketing")[0].split("require")[1:4]


def test_renaming_keeps_the_scripts_own_naming_and_crlf():
    items = document.read(fixture("snappymail.sieve"))
    bank = rules(items)[0]
    bank.rule.name = "Bank mail"
    out = document.render(items)
    assert "\r\n# Bank mail\r\n" in out  # renamed in place: its comment line, CRLF kept
    assert "Hand-added below" not in out
    items = document.read(fixture("roundcube.sieve"))
    rules(items)[2].rule.name = "Archive"
    assert "# rule:[Archive]\nif true\n" in document.render(items)


def test_disabling_and_enabling_a_roundcube_rule():
    items = document.read(fixture("roundcube.sieve"))
    old = rules(items)[1]
    old.rule.enabled = True
    out = document.render(items)
    assert rules(document.read(out))[1].rule == old.rule
    assert "if false" not in out


def test_a_chain_branch_edited_keeps_the_chain():
    text = fixture("handwritten_chains.sieve")
    items = document.read(text)
    shop = rules(items)[1]
    shop.rule.actions[0] = Action("fileinto", "Shop")
    out = document.render(items)
    again = document.read(out)
    assert [i.branch for i in rules(again)[:4]] == ["if", "elsif", "elsif", "else"]
    assert rules(again)[1].rule.actions[0] == Action("fileinto", "Shop")
    assert out.count("elsif") == 2 and "} else {" in out
    assert [copy.deepcopy(i.rule) for i in rules(again)][2:] == [i.rule for i in rules(items)][2:]


def test_a_new_rule_is_appended_with_a_roundcube_name_line():
    items = document.read(fixture("kmail.sieve"))
    items.append(document.Item(kind="rule", rule=SieveRule(name="New", conditions=[Condition("subject", "is", "x")],
                                                           actions=[Action("discard")])))
    out = document.render(items)
    assert out.startswith(fixture("kmail.sieve"))
    assert out.endswith('# rule:[New]\nif allof (header :is "subject" "x") {\n    discard;\n}\n')


def test_values_that_would_change_meaning_are_refused():
    items = document.read(fixture("handwritten_raw.sieve"))
    rules(items)[0].rule.actions[0] = Action("fileinto", "${ticket}")
    with pytest.raises(ValueError, match="variables"):
        document.render(items)


def test_not_sieve_at_all_is_one_raw_block():
    assert kinds(document.read("if { unbalanced")) == ["raw"]
    assert document.render(document.read("if { unbalanced")) == "if { unbalanced"
    assert document.read("") == []



def test_a_statement_the_writer_would_not_write_the_same_way_stays_raw():
    # The editor writes sizes as 100K: reading "100k" as its size rule would be a guess.
    items = document.read('if size :over 100k { discard; }\n')
    assert kinds(items) == ["raw"]


def test_an_if_false_without_a_commented_test_is_raw_not_a_disabled_rule():
    items = document.read('if false { keep; }\n')
    assert kinds(items) == ["raw"]
