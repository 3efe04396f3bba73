"""One slug rule, Django's, wherever a slug is read: config, badges, imports, role grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_settings
from station.db_roles import station_role_sql
from station.scanner import ScannerProfile, decode_scan
from station.services.errors import ConfigurationError
from station.slugs import is_slug

# What Django's validate_slug accepts: "-" or "_" may come first, digits alone are fine.
DJANGO_SLUGS = ["pycon_2026", "-pycon", "_pycon", "2026", "a", "Py-Con_2026"]
DEFAULT = ScannerProfile()
NOT_SLUGS = ["", "py con", "pycön", "py.con", "py/con", "py:con", "py\u202econ"]


@pytest.mark.parametrize("slug", DJANGO_SLUGS)
def test_a_django_slug_is_read_everywhere(slug: str, tmp_path: Path) -> None:
    assert is_slug(slug)
    config = tmp_path / "station.toml"
    config.write_text(f'conference = "{slug}"\nstation = "Desk"\n', encoding="utf-8")
    assert load_settings(config, {}, {}).conference == slug
    decoded = decode_scan(f"{slug}:ABCD1234\r", DEFAULT, conference_slug=slug)
    assert (decoded.code, decoded.conference_slug) == ("ABCD1234", slug.lower())
    assert any(slug in line for line in station_role_sql("door_a", slug))


@pytest.mark.parametrize("text", NOT_SLUGS)
def test_what_django_refuses_is_refused(text: str, tmp_path: Path) -> None:
    assert not is_slug(text)
    config = tmp_path / "station.toml"
    config.write_text(f'conference = "{text}"\nstation = "Desk"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_settings(config, {}, {})
