"""The generated configuration is complete and valid for both variants."""

import subprocess

import pytest

from mailstack import config as mailconfig

# The documented defaults (the test session points the settings elsewhere).
PORTS = mailconfig.Ports(imap=10143, pop3=10110, managesieve=14190, lmtp=10024, auth=10028, smtp=10025,
                         submission=10587)


@pytest.fixture
def out_dir(tmp_path_factory):
    import os
    import tempfile

    path = tempfile.mkdtemp(prefix="duckmail-conf-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    subprocess.run(["rm", "-rf", path])


def dovecot_settings(conf) -> str:
    result = subprocess.run(["dovecot", "-n", "-c", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_production_variant_listens_on_ipv4_and_ipv6_with_tls(db, out_dir):
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    text = dovecot_settings(conf)
    # IMAP, POP3 and ManageSieve on every IPv4 and IPv6 address; LMTP and SASL stay internal.
    assert text.count("address = *, ::") == 3
    assert text.count("address = 127.0.0.1") == 2
    assert "ssl = required" in text
    assert "disable_plaintext_auth = no" not in text
    assert "auth_failure_delay" not in text  # the test shortcut stays out of production
    assert "!include" not in conf.read_text()
    main_cf = (conf.parent.parent / "postfix" / "main.cf").read_text()
    assert "message_size_limit = 20971520" in main_cf
    assert "relayhost" not in main_cf  # production delivers outside mail itself


def test_the_test_variant_is_self_contained_and_complete(db, out_dir):
    conf = mailconfig.generate(out_dir, variant="test", ports=PORTS)
    text = dovecot_settings(conf)
    for expected in ("quota_max_mail_size = 20971520",
                     "special_use = \\Junk", 'prefix = "#Shared/%%u/"', "sieve_spamtest_max_value = 100",
                     "sieve_global = ", "sieve_plugins = sieve_imapsieve sieve_extprograms"):
        assert expected in text, expected
    # Secrets are readable by the daemons, not by everyone.
    for secret in ("dovecot/master-users", "dovecot/dovecot-sql.conf.ext", "postfix/virtual_aliases.cf"):
        mode = (conf.parent.parent / secret).stat().st_mode & 0o777
        assert mode == 0o640, secret
    master = (conf.parent / "master-users").read_text()
    assert master.startswith("duckmail-worker:{SSHA512}")
    from mailstack import credentials

    assert credentials.master_password() not in master
    result = subprocess.run(["postfix", "-c", str(conf.parent.parent / "postfix"), "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_production_postfix_configuration_is_valid(db, out_dir):
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    postfix_dir = conf.parent.parent / "postfix"
    result = subprocess.run(["postconf", "-c", str(postfix_dir), "-M"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Every address, IPv4 and IPv6, on the standard service lines.
    assert "10025      inet" in result.stdout.replace("\t", " ") or result.stdout.startswith("10025")
    main = subprocess.run(["postconf", "-c", str(postfix_dir), "-n"], capture_output=True, text=True)
    assert "inet_interfaces = all" in main.stdout and "inet_protocols = all" in main.stdout


def test_the_master_user_only_works_from_the_workers_networks(db, out_dir, settings):
    settings.DOVECOT_MASTER_NETS = "192.0.2.0/24, 2001:db8::/32"
    conf = mailconfig.generate(out_dir, variant="test", ports=PORTS)
    line = (conf.parent / "master-users").read_text().strip()
    assert line.endswith("::::::allow_real_nets=192.0.2.0/24,2001:db8::/32")
