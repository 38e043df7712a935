"""Loading templates: read `templates/NAME.txt` (+ `.html` or `.md`), its front matter, and compile it.

Front matter (a small YAML subset between `---` lines, read by front_matter.py; unknown keys
are errors)
- `subject` (a template), `description` (one line for `templates list`), `kind` (free text;
  `followup` marks a template meant as a follow-up step, never a first email)
- `include_replied: true`: a campaign with this first email also writes to people already in a
  conversation (a thank-you note), like `campaign create --include-replied`
- `cc`, `reply_to`: addresses, templated, one value or a `- item` list
- `attachments`: `- path` or `- path as "Name the recipient sees.pdf"`; relative to the
  templates folder, templated per contact (contact values cannot leave the named folder)
- `optional_fields`: custom CSV columns that some contacts may lack

Also here: where an attachment resolves to, and the check that contact values keep it inside
the folder the template names. Rendering is in render.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from outreach.errors import NotFoundError, TemplateError
from outreach.templates.front_matter import items, scalar, split_front_matter
from outreach.templates.helpers import HTML_ENV, MARKDOWN_ENV, TEXT_ENV, clean

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class _Part:
    """One compiled piece of a template file and where it sits in that file."""

    label: str  # unique per part; the compiled code's filename
    file: str  # e.g. "observership-request.txt"
    offset: int  # file line = template line + offset
    compiled: jinja2.Template
    source: str = ""


@dataclass
class Template:
    """A loaded, compiled template. `subject`, `cc`, ... are the front-matter sources."""

    name: str
    path: Path
    source: str
    subject: str
    description: str | None = None
    kind: str | None = None
    cc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    optional_fields: list[str] = field(default_factory=list)
    include_replied: bool = False
    html_path: Path | None = None
    _parts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def templates_dir(self) -> Path:
        return self.path.parent

    @property
    def has_html(self) -> bool:
        return self.html_path is not None

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def is_followup(self) -> bool:
        """Meant as a follow-up step (front matter `kind: followup`, or named followup-*)."""
        return (self.kind or "").strip().lower() in ("followup", "follow-up") or self.name.lower().startswith("followup")


def template_names(templates_dir: Path) -> list[str]:
    """Names of every `NAME.txt` in the folder, sorted."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        return []
    return sorted(p.stem for p in templates_dir.glob("*.txt") if NAME_PATTERN.match(p.stem))


def list_templates(templates_dir: Path) -> list[Template]:
    """Every template in the folder, loaded (a broken one raises TemplateError)."""
    return [load_template(templates_dir, name) for name in template_names(templates_dir)]


def load_template(templates_dir: Path, name: str) -> Template:
    """Read and compile `NAME.txt` and its optional `NAME.html` or `NAME.md`."""
    templates_dir = Path(templates_dir)
    path = _template_path(templates_dir, name)
    source = _read(path)
    meta, body, body_offset = split_front_matter(source, path.name)
    subject, subject_line = meta.get("subject", (None, 0))
    if not clean(subject):
        raise TemplateError("the front matter needs a subject: line", template=path.name, line=subject_line or 1)
    html_path = _html_path(templates_dir, name, path)
    template = Template(
        name=name,
        path=path,
        source=source,
        subject=subject,
        description=scalar(meta, "description"),
        kind=scalar(meta, "kind"),
        cc=[v for v, _ in items(meta, "cc")],
        reply_to=[v for v, _ in items(meta, "reply_to")],
        attachments=[v for v, _ in items(meta, "attachments")],
        optional_fields=[v for v, _ in items(meta, "optional_fields")],
        include_replied=(scalar(meta, "include_replied") or "").strip().lower() in ("true", "yes", "1"),
        html_path=html_path,
    )
    template._parts = _compile_parts(meta, body, body_offset, path.name, html_path)
    return template


def _template_path(templates_dir: Path, name: str) -> Path:
    """`templates_dir/NAME.txt`, or NotFoundError naming the templates that do exist."""
    if not NAME_PATTERN.match(name or ""):
        raise NotFoundError(f"{name!r} is not a template name (letters, digits, '-', '_', '.'; no folders)")
    path = templates_dir / f"{name}.txt"
    if not path.is_file():
        known = template_names(templates_dir)
        where = (
            f"templates in {templates_dir}/: {', '.join(known)}" if known
            else f"{templates_dir}/ has no templates; point --templates-dir or OUTREACH_TEMPLATES_DIR at your templates folder"
        )
        raise NotFoundError(f"no template {name!r}: {path} does not exist ({where})")
    return path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # editors on Windows may add a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(f"cannot read: {error}", template=path.name) from None


def _html_path(templates_dir: Path, name: str, path: Path) -> Path | None:
    """`NAME.html` or `NAME.md` beside the text part (both is an error), else None."""
    html_path = None
    for suffix in (".html", ".md"):
        candidate = templates_dir / f"{name}{suffix}"
        if candidate.is_file():
            if html_path is not None:
                raise TemplateError(f"has both {name}.html and {name}.md; keep one", template=path.name)
            html_path = candidate
    return html_path


def _compile_parts(
    meta: dict[str, Any], body: str, body_offset: int, file: str, html_path: Path | None
) -> dict[str, Any]:
    """Every templated piece compiled: subject, body, cc, reply_to, attachments and html."""
    subject, subject_line = meta["subject"]
    parts: dict[str, Any] = {
        "subject": _compile(TEXT_ENV, subject, file, "subject", subject_line - 1),
        "body": _compile(TEXT_ENV, body, file, "body", body_offset),
        "cc": [_compile(TEXT_ENV, v, file, f"cc{i}", line - 1) for i, (v, line) in enumerate(items(meta, "cc"))],
        "reply_to": [
            _compile(TEXT_ENV, v, file, f"reply_to{i}", line - 1) for i, (v, line) in enumerate(items(meta, "reply_to"))
        ],
        "attachments": [
            _compile_attachment(v, file, i, line - 1) for i, (v, line) in enumerate(items(meta, "attachments"))
        ],
        "html": None,
    }
    if html_path is not None:
        html_source = _read(html_path)
        env = MARKDOWN_ENV if html_path.suffix == ".md" else HTML_ENV
        parts["html"] = _compile(env, html_source, html_path.name, "html", 0)
        parts["markdown"] = html_path.suffix == ".md"
    return parts


ATTACHMENT_AS = re.compile(r"^(?P<path>.+?)\s+as\s+(?P<q>[\"'])(?P<name>.+)(?P=q)$")


def _compile_attachment(item: str, file: str, index: int, offset: int) -> tuple[_Part, _Part | None]:
    """`path/to/file.pdf` or `path/to/file.pdf as "Name shown to the recipient.pdf"`."""
    match = ATTACHMENT_AS.match(item)
    path, name = (match["path"], match["name"]) if match else (item, None)
    return (
        _compile(TEXT_ENV, path, file, f"attachment{index}", offset),
        _compile(TEXT_ENV, name, file, f"attachment{index}-name", offset) if name else None,
    )


def _compile(env: SandboxedEnvironment, source: str, file: str, part: str, offset: int) -> _Part:
    label = f"{file}#{part}"
    try:
        code = env.compile(source, name=label, filename=label)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"syntax error: {error.message}", template=file, line=(error.lineno or 1) + offset) from None
    return _Part(label, file, offset, env.template_class.from_code(env, code, env.make_globals(None)), source)



# --- Attachment paths -------------------------------------------------------------------------


def _resolve(folder: Path, text: str) -> Path:
    """The real path of an attachment (relative to the templates folder)."""
    path = Path(text).expanduser()
    return _realpath(os.path.abspath(path if path.is_absolute() else folder / path))


@lru_cache(maxsize=4096)
def _realpath(absolute: str) -> Path:
    """Cached by absolute path, as every contact names the same few files (realpath per
    contact was an eighth of `templates check`); abspath first, so a change of the current
    folder never returns another folder's file."""
    return Path(os.path.realpath(absolute))


def _literal_folder(folder: Path, source: str) -> Path:
    """The folder an attachment line names before any {{ ... }}: "letters/{{ x }}.pdf" -> letters."""
    literal = source.split("{", 1)[0]
    if not literal or literal.endswith(("/", os.sep)):
        return _resolve(folder, literal or ".")
    return _resolve(folder, literal).parent


def _within(folder: Path, value: str, source: str) -> Path | None:
    """The file to attach, or None when values from the contact lead outside the named folder.

    A template that writes `attachments/{{ last_name }}.pdf` must not be made to send
    `../../.ssh/id_rsa` by a contact whose last name says so.
    """
    path = _resolve(folder, value)
    if "{" not in source:
        return path  # written out by the user: any path they like
    base = _literal_folder(folder, source)
    return path if os.path.commonpath([base, path]) == str(base) else None

