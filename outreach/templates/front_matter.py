"""The front matter of a template file: a deliberately small YAML subset between `---` lines.

`key: value` scalars and `- item` lists (or `[a, b]` inline); unknown keys, repeated keys and a
missing closing `---` are TemplateErrors with the file's line, so a typo never silently drops a Cc.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from outreach.errors import TemplateError

FRONT_MATTER_KEYS = ("subject", "description", "kind", "cc", "reply_to", "attachments", "optional_fields", "include_replied")
LIST_KEYS = ("cc", "reply_to", "attachments", "optional_fields")


def split_front_matter(source: str, file: str) -> tuple[dict[str, Any], str, int]:
    """Front matter as {key: (value, line) | [(item, line), ...]}, the body and its line offset."""
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise TemplateError("must start with a front-matter block: a '---' line, 'subject: ...', then '---'", template=file, line=1)
    meta: dict[str, Any] = {}
    current_list: str | None = None
    for index in range(1, len(lines)):  # a deliberately small YAML subset: key: value, - items
        number = index + 1
        raw = lines[index].rstrip("\r\n")
        stripped = raw.strip()
        if stripped == "---":
            body_lines = lines[index + 1 :]
            offset = index + 1
            while body_lines and not body_lines[0].strip():  # blank lines after the block
                body_lines.pop(0)
                offset += 1
            return meta, "".join(body_lines), offset
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("- ") or stripped == "-":
            if current_list is None:
                raise TemplateError("a '- item' line must follow a key such as 'attachments:'", template=file, line=number)
            meta[current_list].append((_unquote(stripped[1:].strip()), number))
            continue
        key, colon, value = raw.partition(":")
        key = key.strip()
        if not colon or not re.fullmatch(r"[a-z_]+", key):
            raise TemplateError(f"front matter line {stripped!r} is not 'key: value'", template=file, line=number)
        if key not in FRONT_MATTER_KEYS:
            raise TemplateError(
                f"unknown front-matter key {key!r} (known: {', '.join(FRONT_MATTER_KEYS)})", template=file, line=number
            )
        if key in meta:
            raise TemplateError(f"front-matter key {key!r} appears twice", template=file, line=number)
        value = value.strip()
        if key in LIST_KEYS:
            current_list = key
            meta[key] = [] if not value else [(_unquote(v.strip()), number) for v in _inline_list(key, value)]
        else:
            current_list = None
            meta[key] = (_unquote(value), number)
    raise TemplateError("the front-matter block has no closing '---' line", template=file, line=1)


def _inline_list(key: str, value: str) -> list[str]:
    if value.startswith("[") and value.endswith("]"):
        return [v for v in value[1:-1].split(",") if v.strip()]
    if key == "optional_fields":
        return [v for v in value.split(",") if v.strip()]
    return [value]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def scalar(meta: Mapping[str, Any], key: str) -> str | None:
    """The value of a `key: value` line, or None."""
    value = meta.get(key)
    return value[0] if value else None


def items(meta: Mapping[str, Any], key: str) -> list[tuple[str, int]]:
    """The non-empty `- item` values of a list key, each with its line in the file."""
    return [(v, line) for v, line in meta.get(key, []) if v]
