"""Settings come from one place: flags > environment > .env > provider preset > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.config import load_settings, parse_gap
from outreach.errors import ConfigError


def test_defaults_are_safe_without_any_settings():
    settings = load_settings(environ={}, env_file=None)
    assert settings.db_path == Path("outreach.db")
    assert settings.templates_dir == Path("templates")
    assert settings.smtp.security == "starttls"  # the conservative custom preset uses TLS
    assert settings.gap == (45.0, 120.0)
    assert settings.daily_cap == 50 and settings.hourly_cap == 10


def test_flags_beat_environment_which_beats_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("OUTREACH_DB=from-dotenv.db\nOUTREACH_TIMEZONE=America/Chicago\nOUTREACH_GAP=5-10\n")
    environ = {"OUTREACH_DB": "from-env.db", "OUTREACH_GAP": "1-2"}

    assert load_settings(environ=environ, env_file=env_file).db_path == Path("from-env.db")
    assert load_settings({"db": "from-flag.db"}, environ=environ, env_file=env_file).db_path == Path("from-flag.db")
    settings = load_settings(environ={}, env_file=env_file)
    assert settings.db_path == Path("from-dotenv.db")
    assert settings.timezone == "America/Chicago"
    assert settings.gap == (5.0, 10.0)


def test_provider_preset_fills_servers_and_conservative_caps():
    settings = load_settings(environ={"OUTREACH_PROVIDER": "gmail", "OUTREACH_FROM": "Ada Obi <ada@example.com>"}, env_file=None)
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("smtp.gmail.com", 465, "tls")
    assert settings.imap.host == "imap.gmail.com"
    assert settings.smtp.username == "ada@example.com"
    assert 0 < settings.daily_cap < 500  # well under Gmail's published 500/day


def test_explicit_settings_override_the_preset():
    settings = load_settings(environ={"OUTREACH_PROVIDER": "outlook", "OUTREACH_DAILY_CAP": "0", "OUTREACH_SMTP_PORT": "2525"}, env_file=None)
    assert settings.daily_cap == 0
    assert settings.smtp.port == 2525
    assert settings.smtp.host == "smtp-mail.outlook.com"


def test_passwords_never_come_from_flags_and_never_show_in_repr(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("OUTREACH_SMTP_PASSWORD=dotenv-secret\n")
    settings = load_settings({"smtp_password": "flag-secret"}, environ={}, env_file=env_file)
    assert settings.smtp.password == "dotenv-secret"
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"OUTREACH_SMTP_SECURITY": "ssl"}, "use one of tls, starttls, none"),
        ({"OUTREACH_DAILY_CAP": "lots"}, "not a whole number"),
        ({"OUTREACH_PROVIDER": "hotmail2"}, "OUTREACH_PROVIDER"),
        ({"OUTREACH_GAP": "120-45"}, "MIN <= MAX"),
    ],
)
def test_bad_settings_say_which_and_how_to_fix(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ, env_file=None)


def test_gap_forms():
    assert parse_gap("0") == (0.0, 0.0)
    assert parse_gap("30") == (30.0, 30.0)
    assert parse_gap("45-120") == (45.0, 120.0)
