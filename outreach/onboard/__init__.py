"""Getting started: `outreach init` (settings file, starter templates) and `outreach doctor`."""
