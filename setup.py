"""Packaging details pyproject.toml cannot say: the starter templates and example contacts.

Their one source is the repository's top-level `templates/` and `contacts/` (what the README's
examples use); these mappings install them inside the package as `outreach/starter/templates`
and `outreach/starter/contacts`, where `outreach init` finds them. Nothing is copied by hand,
so the shipped starters cannot drift from the repository's.
"""

from setuptools import find_packages, setup

STARTERS = {"outreach.starter.templates": "templates", "outreach.starter.contacts": "contacts"}

setup(
    packages=find_packages(include=["outreach", "outreach.*"]) + list(STARTERS),
    package_dir=STARTERS,
    package_data={
        "outreach.starter.templates": ["**/*"],
        "outreach.starter.contacts": ["**/*"],
    },
)
