"""Several accounts: OUTREACH_PROFILE_<NAME>_* settings, `--profile`, a campaign that remembers
the account it sends from, and caps counted per account (each profile's own caps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.config import load_settings
from outreach.db import open_db
from outreach.errors import ConfigError
from outreach.mail.auth import credentials
from tests.campaign_fixtures import write_template
from tests.mailservers import PASSWORD

ENV = """\
OUTREACH_GAP=0
OUTREACH_TIMEZONE=America/Chicago
OUTREACH_FROM=Plain Account <plain@example.com>
OUTREACH_DAILY_CAP=7
OUTREACH_SMTP_HOST=smtp.plain.example.com
"""


def profile(name: str, address: str, cap: int, smtp, certs) -> str:
    p = f"OUTREACH_PROFILE_{name.upper()}_"
    return "".join(f"{p}{key}={value}\n" for key, value in {
        "PROVIDER": "custom", "FROM": f'"Ada Obi <{address}>"', "SMTP_HOST": smtp.host, "SMTP_PORT": smtp.port,
        "SMTP_SECURITY": "starttls", "SMTP_PASSWORD": PASSWORD, "SENT_COPY": "no",
        "DAILY_CAP": cap, "HOURLY_CAP": 0, "DOMAIN_CAP": 0,
    }.items()) + f"OUTREACH_CA_FILE={certs.ca_file}\n"


def test_a_profile_has_its_own_account_and_shares_the_rest(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(ENV + "OUTREACH_PROFILE_UNI_PROVIDER=gmail\nOUTREACH_PROFILE_UNI_FROM=ada@uni.example.edu\n"
                        "OUTREACH_PROFILE_UNI_GAP=5\n")
    plain = load_settings(environ={}, env_file=env_file)
    uni = load_settings({"profile": "uni"}, environ={}, env_file=env_file)
    assert (plain.profile, plain.from_address, plain.daily_cap) == (None, "Plain Account <plain@example.com>", 7)
    assert (uni.profile, uni.from_address, uni.provider) == ("uni", "ada@uni.example.edu", "gmail")
    assert uni.smtp.host == "smtp.gmail.com"  # the profile's preset, never the plain account's server
    assert uni.daily_cap == 100  # gmail preset cap; OUTREACH_DAILY_CAP belongs to the plain account
    assert uni.smtp.username == "ada@uni.example.edu"
    assert uni.gap == (5.0, 5.0) and uni.timezone == "America/Chicago"  # shared settings fall back
    by_env = load_settings(environ={"OUTREACH_PROFILE": "UNI"}, env_file=env_file)
    assert by_env.profile == "uni"
    with pytest.raises(ConfigError, match="no profile called 'nope' \\(profiles set up: uni\\)"):
        load_settings({"profile": "nope"}, environ={}, env_file=env_file)


def test_a_missing_secret_is_named_by_the_profiles_own_key(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(ENV + "OUTREACH_PROFILE_UNI_PROVIDER=gmail\nOUTREACH_PROFILE_UNI_FROM=ada@uni.example.edu\n")
    uni = load_settings({"profile": "uni"}, environ={}, env_file=env_file)
    with pytest.raises(ConfigError, match="set OUTREACH_PROFILE_UNI_SMTP_PASSWORD \\(or OUTREACH_PROFILE_UNI_SMTP_PASSWORD_CMD"):
        credentials(uni.smtp)
    plain = load_settings(environ={}, env_file=env_file)
    with pytest.raises(ConfigError, match="set OUTREACH_SMTP_PASSWORD \\(or OUTREACH_SMTP_PASSWORD_CMD"):
        credentials(plain.smtp)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_each_profile_sends_from_its_account_under_its_own_caps(smtp_server, certs, tmp_path: Path):
    (tmp_path / ".env").write_text(ENV + profile("home", "ada.home@example.com", 1, smtp_server, certs)
                                   + profile("uni", "ada@uni.example.edu", 2, smtp_server, certs))
    write_template(tmp_path)
    for tag, numbers in (("t", range(1, 4)), ("u", range(4, 7))):
        (tmp_path / f"{tag}.csv").write_text("email,first_name,last_name,title,specialty,hospital,state\n" + "".join(
            f"doc{n}@h{n}.example.org,Jane,Doe{n},Dr.,Cardiology,Mercy {n},OH\n" for n in numbers))
        assert run("contacts", "import", f"{tag}.csv", "--tag", tag).exit_code == 0

    created = run("campaign", "create", "a", "--template", "hello", "--tag", "t", "--profile", "home")
    assert created.exit_code == 0, created.output
    row = next(open_db("outreach.db").query("SELECT profile, account FROM campaigns WHERE name = 'a'"))
    assert row == {"profile": "home", "account": "ada.home@example.com"}
    assert run("--profile", "uni", "campaign", "create", "b", "--template", "hello", "--tag", "u").exit_code == 0

    first = run("campaign", "send", "a", "--live", "--no-limit", "--json")
    assert json.loads(first.output)["sent"] == 1  # home's own daily cap of 1
    assert {m.mail_from for m in smtp_server.received} == {"ada.home@example.com"}
    second = run("campaign", "send", "b", "--live", "--no-limit", "--json")
    assert json.loads(second.output)["sent"] == 2  # uni counts its own sends only, cap 2
    assert [m.mail_from for m in smtp_server.received].count("ada@uni.example.edu") == 2
    again = run("campaign", "send", "a", "--live", "--json")
    assert json.loads(again.output)["sent"] == 0  # home is still at its cap, whatever uni did

    assert "  account:   profile home (ada.home@example.com)" in run("campaign", "show", "a").output
    wrong = CliRunner().invoke(cli, ["--profile", "uni", "campaign", "send", "a", "--live"])
    assert wrong.exit_code == 1
    assert "sends from profile 'home', not 'uni'" in wrong.output



def test_relative_paths_in_a_settings_file_count_from_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / ".env").write_text("OUTREACH_DB=data/outreach.db\n")
    settings = load_settings(environ={}, env_file=folder / ".env")
    assert settings.db_path == folder / "data" / "outreach.db"
    assert settings.templates_dir == Path("templates")  # a default stays in the current folder
    monkeypatch.setenv("OUTREACH_DB", "mine.db")
    assert load_settings(env_file=folder / ".env").db_path == Path("mine.db")  # the environment's count from here
