"""outreach: a local-first command-line campaign manager for personal outreach email."""

import sys as _sys

__version__ = "0.1.0"


def _import_sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy whenever it is installed, only to map numpy types for inserts we
    never make. matplotlib (for `report --html`) installs numpy, which would add 0.07-0.3 s to the
    start of every command; so sqlite-utils is loaded with numpy hidden, and numpy stays free for
    matplotlib to import later."""
    if "numpy" in _sys.modules or "sqlite_utils.db" in _sys.modules:
        return
    _sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401  # loaded here, once, while numpy is hidden
    finally:
        del _sys.modules["numpy"]


_import_sqlite_utils_without_numpy()
