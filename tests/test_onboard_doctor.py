"""`outreach doctor` against the real fixtures: a good account, a wrong password, a certificate
we do not trust, and an IMAP server that is not there. Run as the installed command would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.mailservers import free_port


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "outreach", "doctor", *args], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
    )


def checks(result: subprocess.CompletedProcess) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_a_good_account_passes_every_check(mail_env):
    result = doctor("--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    found = checks(result)
    assert found["smtp sign-in"]["status"] == "ok" and "password" in found["smtp sign-in"]["detail"]
    assert "starttls, TLSv1." in found["smtp connection"]["detail"] and "verified" in found["smtp connection"]["detail"]
    assert found["imap sign-in"]["status"] == "ok"
    assert "(tls, TLSv1." in found["imap connection"]["detail"]
    for folder in ("Sent", "Drafts", "Junk"):
        assert found[f"{folder.lower()} folder"]["detail"] == f"'{folder}' (SPECIAL-USE \\{folder})"
    assert report["account"]["limits"].startswith("no gap, no daily cap")
    assert mail_env["OUTREACH_SMTP_PASSWORD"] not in result.stdout + result.stderr


def test_the_human_report_shows_the_account_and_limits(mail_env):
    result = doctor()
    assert result.returncode == 0, result.stderr
    assert "Account: Ada Obi <ada@example.com> via custom" in result.stdout
    assert "limits in force: no gap, no daily cap" in result.stdout
    assert "[ok  ] sent folder: 'Sent' (SPECIAL-USE \\Sent)" in result.stdout
    assert "All checks passed" in result.stdout


def test_a_wrong_password_fails_with_the_server_reply_and_what_to_do(mail_env):
    result = doctor("--json", env={"OUTREACH_SMTP_PASSWORD": "wrong-Secret-42", "OUTREACH_IMAP_PASSWORD": "wrong-Secret-42"})
    assert result.returncode == 1
    found = checks(result)
    assert found["smtp sign-in"]["status"] == "fail"
    assert found["smtp sign-in"]["detail"].startswith("535 ")
    assert "OUTREACH_SMTP_PASSWORD" in found["smtp sign-in"]["fix"]
    assert found["imap sign-in"]["status"] == "fail"
    assert "wrong-Secret-42" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: 2 check(s) failed")


def test_gmail_refusing_a_password_says_to_use_an_app_password(mail_env):
    result = doctor("--json", env={"OUTREACH_PROVIDER": "gmail", "OUTREACH_SMTP_PASSWORD": "wrong"})
    fix = checks(result)["smtp sign-in"]["fix"]
    assert "app password" in fix and "myaccount.google.com/apppasswords" in fix


def test_an_untrusted_certificate_fails_and_names_the_fix(mail_env):
    env = {**os.environ}
    env.pop("OUTREACH_CA_FILE")
    result = subprocess.run([sys.executable, "-m", "outreach", "doctor", "--json"], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL, env=env)
    assert result.returncode == 1
    found = checks(result)
    assert found["smtp connection"]["status"] == "fail"
    assert "certificate is not trusted" in found["smtp connection"]["detail"]
    assert "OUTREACH_CA_FILE" in found["smtp connection"]["fix"]
    assert found["imap connection"]["status"] == "fail"
    assert "OUTREACH_CA_FILE" in found["imap connection"]["detail"]


def test_an_imap_server_that_is_not_there_fails_the_imap_checks_only(mail_env):
    result = doctor("--json", env={"OUTREACH_IMAP_PORT": str(free_port())})
    assert result.returncode == 1
    found = checks(result)
    assert found["smtp sign-in"]["status"] == "ok"
    assert found["imap connection"]["status"] == "fail"
    assert "connection refused" in found["imap connection"]["detail"]
    assert "replies import" in found["imap connection"]["fix"]


def test_no_account_at_all_fails_and_says_run_init(tmp_path):
    result = doctor()
    assert result.returncode == 1
    assert "run `outreach init`" in result.stdout
    assert "[FAIL] from: OUTREACH_FROM is not set" in result.stdout
    assert not (tmp_path / "outreach.db").exists()


def test_outlook_with_a_password_is_warned_before_any_login(tmp_path):
    from outreach.config import load_settings
    from outreach.onboard.doctor import _check_settings, Diagnosis

    settings = load_settings(environ={"OUTREACH_PROVIDER": "outlook", "OUTREACH_FROM": "ada@outlook.com",
                                      "OUTREACH_SMTP_PASSWORD": "x"}, env_file=None)
    report = Diagnosis(account={})
    _check_settings(settings, report)
    warned = {c.name: c for c in report.checks if c.status == "warn"}
    assert "outlook refuses passwords for SMTP" == warned["smtp sign-in method"].detail
    assert "OAuth2" in warned["smtp sign-in method"].fix and "imap sign-in method" in warned
