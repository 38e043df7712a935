"""outreach: a local-first command-line campaign manager for personal outreach email."""

__version__ = "0.1.0"
