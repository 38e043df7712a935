"""The starter templates and example contacts shipped inside the package.

Installed, they live in `outreach/starter/templates` and `outreach/starter/contacts` (mapped from
the repository's top-level folders by setup.py, so there is one source). In an editable install
from a checkout the package has no `starter/` folder and the checkout's own folders are used.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from outreach.errors import OutreachError

KINDS = ("templates", "contacts")


def starter_dir(kind: str) -> Path:
    """The shipped `templates` or `contacts` folder."""
    package = Path(__file__).resolve().parent.parent  # the installed `outreach` folder
    installed = package / "starter" / kind
    if installed.is_dir():
        return installed
    checkout = package.parent
    if (checkout / "setup.py").is_file() and (checkout / kind).is_dir():
        return checkout / kind
    raise OutreachError(f"the starter {kind} are missing from this installation: reinstall outreach (pip install --force-reinstall outreach)")


@dataclass
class Copied:
    """What copying the starters did: files written, and files left alone because they existed."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def copy_starters(folder: Path) -> Copied:
    """Copy the starter templates/ and contacts/ into `folder`, never overwriting a file."""
    result = Copied()
    for kind in KINDS:
        source = starter_dir(kind)
        for path in sorted(source.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            target = folder / kind / path.relative_to(source)
            if target.exists():
                result.kept.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            result.written.append(target)
    return result
