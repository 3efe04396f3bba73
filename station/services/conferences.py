"""Which conference a command acts on: the one named, or the only one in the database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from station.models import Conference
from station.text import display_safe


def conference_slug(conn: Connection, slug: str | None, refuse: Callable[[str], Exception]) -> str:
    """The named conference if it exists, else the only one; ``refuse`` makes the error
    from a one-line reason (each command words its errors in its own style)."""
    if slug is not None:
        if conn.scalar(select(Conference.id).where(Conference.slug == slug)) is None:
            shown = repr(display_safe(slug, limit=60))
            raise refuse(f"conference {shown} does not exist in this database")
        return slug
    slugs = list(conn.scalars(select(Conference.slug).order_by(Conference.slug).limit(6)))
    if len(slugs) == 1:
        return str(slugs[0])
    if not slugs:
        raise refuse("this database has no conference yet; import attendees first")
    listed = ", ".join(slugs[:5]) + (", …" if len(slugs) > 5 else "")
    raise refuse(f"say which conference with --conference (this database has: {listed})")
