"""Real servers that accept OAuth2 (SASL XOAUTH2) sign-in, for the sign-in tests.

- `OAuthSmtpServer`: the aiosmtpd fixture server plus an `auth_XOAUTH2` mechanism on its handler
  (aiosmtpd calls `auth_<MECH>` methods for custom mechanisms).
- `OAuthDovecot`: Dovecot with its oauth2 passdb, which asks a token introspection endpoint
  (RFC 7662) whether a token is valid; `Introspection` is that endpoint, a tiny HTTP server on
  127.0.0.1 that knows one token per user.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from tests.mailservers import LOOPBACK, Certificates, DovecotServer, RecordingHandler, free_port


def parse_xoauth2(blob: bytes) -> tuple[str, str]:
    """base64 `user=U^Aauth=Bearer T^A^A` -> (U, T)."""
    fields = dict(part.split("=", 1) for part in base64.b64decode(blob).decode().split("\x01") if "=" in part)
    return fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")


class XOAuth2Handler(RecordingHandler):
    """Records mail; signs in whoever presents `tokens[user]`."""

    def __init__(self, tokens: dict[str, str]) -> None:
        super().__init__()
        self.tokens = tokens
        self.logins: list[tuple[str, str]] = []

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = args[1].encode() if len(args) > 1 else await server.challenge_auth("", encode_to_b64=False)
        user, token = parse_xoauth2(blob)
        ok = bool(user) and self.tokens.get(user) == token
        self.logins.append(("XOAUTH2", user))
        if not ok:
            # As Gmail does: a JSON error as a 334 challenge, then 535 after the client's empty line.
            await server.challenge_auth(json.dumps({"status": "401", "schemes": "Bearer"}))
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None,
                          message=None if ok else "535 5.7.8 Username and Password not accepted")


class OAuthSmtpServer:
    """aiosmtpd on 127.0.0.1: STARTTLS required, then AUTH XOAUTH2 (no password mechanisms)."""

    def __init__(self, certs: Certificates, tokens: dict[str, str]) -> None:
        self.handler = XOAuth2Handler(tokens)
        self.host, self.port = LOOPBACK, free_port()
        self.controller = Controller(
            self.handler, hostname=LOOPBACK, port=self.port, tls_context=certs.server_context(), require_starttls=True,
            auth_required=True, auth_require_tls=True, auth_exclude_mechanism=["LOGIN", "PLAIN"], ready_timeout=10,
        )

    def start(self) -> "OAuthSmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class Introspection:
    """RFC 7662 token introspection on 127.0.0.1: POST token=T -> {"active": ..., "username": ...}."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.asked = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                token = parse_qs(self.rfile.read(length).decode()).get("token", [""])[0]
                outer.asked += 1
                user = next((u for u, t in outer.tokens.items() if t == token), None)
                body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/introspect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Introspection":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {conf}
}}
"""
OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


class OAuthDovecot(DovecotServer):
    """The fixture's Dovecot, signing users in only by XOAUTH2/OAUTHBEARER via `introspection`."""

    def __init__(self, root: Path, certs: Certificates, introspection: Introspection) -> None:
        super().__init__(root, certs)
        self.introspection = introspection

    def _config(self) -> str:
        conf = self.root / "dovecot-oauth2.conf.ext"
        conf.write_text(OAUTH2_CONF.format(url=self.introspection.url))
        text = super()._config()
        static = text[text.index("passdb {"):text.index("userdb {")]
        text = text.replace(static, OAUTH2_PASSDB.format(conf=conf))
        return text.replace("auth_mechanisms = plain login", "auth_mechanisms = xoauth2 oauthbearer")


__all__ = ["Introspection", "OAuthDovecot", "OAuthSmtpServer", "parse_xoauth2"]
