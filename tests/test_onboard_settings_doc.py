"""`.env.example` documents every setting config.py reads, and the README names the new ones."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def settings_read_by_config() -> set[str]:
    source = (REPO / "outreach" / "config.py").read_text()
    keys = set(re.findall(r'(?:lookup\.(?:get|secret)|path_setting)\(\s*"([A-Z0-9_]+)"', source))
    for prefix in ("SMTP", "IMAP"):  # _server() reads f"{prefix}_..." keys
        keys |= {f"{prefix}_{k}" for k in re.findall(r'lookup\.(?:get|secret)\(f"\{prefix\}_([A-Z0-9_]+)"', source)}
    return {f"OUTREACH_{k}" for k in keys} | {"OUTREACH_PROFILE"}


def test_every_setting_is_in_env_example():
    keys = settings_read_by_config()
    assert {"OUTREACH_SMTP_PASSWORD_CMD", "OUTREACH_IMAP_OAUTH2_CMD", "OUTREACH_OAUTH2_TOKEN_CMD", "OUTREACH_DB"} <= keys
    example = (REPO / ".env.example").read_text()
    missing = sorted(k for k in keys if not re.search(rf"^#? ?{k}=", example, re.M))
    assert not missing, f".env.example lacks {missing}"
    assert "OUTREACH_PROFILE_" in example


def test_readme_explains_init_doctor_sign_in_and_profiles():
    readme = (REPO / "README.md").read_text()
    for text in ("outreach init", "outreach doctor", "OUTREACH_SMTP_PASSWORD_CMD", "OUTREACH_OAUTH2_TOKEN_CMD",
                 "myaccount.google.com/apppasswords", "OUTREACH_SMTP_USERNAME=", "OUTREACH_PROFILE_", "~/.config/outreach"):
        assert text in readme, text
