"""Errors the user can act on. The CLI prints them as one `Error: ...` line and exits 1."""

from __future__ import annotations


class OutreachError(Exception):
    """Base class: the message says what went wrong and, where possible, what to do next."""

    exit_code = 1


class ConfigError(OutreachError):
    """A setting is missing or invalid."""


class InputFileError(OutreachError):
    """A file the user gave us cannot be read at all (as opposed to a bad row in it)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotFoundError(OutreachError):
    """A named contact, template or campaign does not exist."""


class TemplateError(OutreachError):
    """A template cannot be rendered; carries the template, line and contact when known."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        line: int | None = None,
        contact: str | None = None,
    ) -> None:
        self.template = template
        self.line = line
        self.contact = contact
        self.reason = message
        where = template or ""
        if template and line:
            where = f"{template}:{line}"
        parts = [p for p in (where, f"contact {contact}" if contact else "") if p]
        prefix = f"{', '.join(parts)}: " if parts else ""
        super().__init__(prefix + message)


class HeaderInjectionError(OutreachError):
    """A value bound for a mail header contains CR, LF or NUL."""


class MailServerError(OutreachError):
    """A mail server refused us or could not be reached; carries host:port."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        self.host = host
        self.port = port
        where = f"{host}:{port}: " if host else ""
        super().__init__(where + message)
