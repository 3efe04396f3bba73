"""The one slug rule: Django's (``validate_slug``), since conferences and products come from it.

ASCII letters, digits, "-" and "_", at least one, any of them first. Every place
that reads a slug (the config, ``slug:CODE`` badges, imports, the role grant)
holds it to this rule, so a slug django-program accepts is accepted everywhere.
"""

from __future__ import annotations

import re

SLUG_CHARACTERS = r"[-a-zA-Z0-9_]"
SLUG = re.compile(rf"{SLUG_CHARACTERS}+\Z")


def is_slug(text: str) -> bool:
    return SLUG.match(text) is not None
