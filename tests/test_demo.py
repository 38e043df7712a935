"""The README's first command: scripts/demo runs the whole loop on the bundled examples with no
account and no network (a live send to its own SMTP sink on 127.0.0.1, replies read back from
files), here with this environment's Python instead of a fresh .venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from outreach.db import open_db

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_runs_the_whole_loop_without_an_account(tmp_path):
    demo = tmp_path / "demo"
    env = {**os.environ, "OUTREACH_DEMO_PYTHON": sys.executable, "OUTREACH_DEMO_DIR": str(demo),
           # a user's real settings in the environment must not leak into the demo
           "OUTREACH_SMTP_HOST": "smtp.gmail.com", "OUTREACH_SMTP_PASSWORD": "not-to-be-used"}
    result = subprocess.run(["bash", str(REPO / "scripts" / "demo")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert "Sent 25, failed 0" in out
    assert "4 matched of 4 read: 1 replied, 1 auto-replies, 1 bounced, 1 opted out" in out
    assert "Traceback" not in result.stderr
    assert "$ outreach report --campaign spring-observerships" in result.stderr and "reply rate" in out
    assert len(list((demo / "sink").glob("*.eml"))) == 25

    db = open_db(demo / "outreach.db")
    status = dict(db.execute("SELECT email, status FROM contacts WHERE email IN (?, ?, ?, ?)", [
        "jane.okafor@mercy.example.org", "rmehta@stlukes.example.org", "c.mendoza@baycare.example.com",
        "twhitfield@valleyhealth.example.net"]).fetchall())
    assert status == {"jane.okafor@mercy.example.org": "active", "rmehta@stlukes.example.org": "away",
                      "c.mendoza@baycare.example.com": "bounced", "twhitfield@valleyhealth.example.net": "opted_out"}
    # every reply answers the message the sink really received, and came after it
    replies = list(db.query("SELECT r.received_at, m.sent_at FROM replies r JOIN messages m ON m.id = r.message_id"))
    assert len(replies) == 4 and all(r["received_at"] >= r["sent_at"][:19] for r in replies)
