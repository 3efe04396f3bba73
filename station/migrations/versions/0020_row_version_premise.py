"""The guarded writes also check the row versions a decision was taken on

A station decides a scan on its snapshot first (station.services.store_first) and
sends only the write: one round trip. The write already checks, under the
attendee's lock, the premises about records (first entry, units used, scans at the
door) and the invariants (active order, quantity, daily limit, capacity). What the
snapshot can also be behind on is the rest of the facts: a badge code moved to
another person, a name, an order's status or attention note, a line, a product's
name or rules. Every change to those rows stamps a new change_seq (0013), so:

- station_check_in(), station_admit() and station_redeem_line() take two more
  parameters (default NULL: not checked, as a write after a fresh read sends them).
  ``p_versions bigint[]``: when given, it must equal, sorted, the change_seq of the
  attendee, their person, their order, the order's lines and every ticket type and
  add-on of the conference, read under the lock. ``p_records bigint[]``: the ids of
  the attendee's newest check-in, redemption (of their order's lines), door scan and
  void (0 for none): a new record or void since changes one. Otherwise the function
  writes nothing and answers 'stale', and the station reads the facts and decides again.
  This is a premise, not a rule: the rule book still decides and words everything.
- The functions' signatures change, so each is dropped and created again, and the
  station roles of station_role_conference get EXECUTE on the new ones (the grant
  `station db grant-station-role` gives).
- SQLite: nothing (the station decides under BEGIN IMMEDIATE there).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 12:50:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = {
    "station_check_in": "station_check_in(integer, integer, boolean, text, uuid, timestamptz, "
    "text, integer, text, text)",
    "station_admit": "station_admit(integer, integer, text, integer, text, integer, text, uuid, "
    "timestamptz, text, integer, text)",
    "station_redeem_line": "station_redeem_line(integer, integer, integer, integer, text, text, "
    "uuid, timestamptz, text, integer, text, text)",
}
NEW = {name: signature[:-1] + ", bigint[], bigint[])" for name, signature in OLD.items()}

# Where the premise goes: right after 0008's holder guard, under the attendee's lock.
_GUARD_END = (
    "        RAISE EXCEPTION 'no staff member %', p_staff USING ERRCODE = 'check_violation';\n"
    "    END IF;\n"
)
_PREMISE = """    -- What the decision rests on (0020), if the caller says: the row versions and the
    -- attendee's newest records (ids only grow). Anything changed since: stale.
    IF p_versions IS NOT NULL OR p_records IS NOT NULL THEN
        IF (p_versions IS NOT NULL AND p_versions IS DISTINCT FROM (
            SELECT array_agg(v.seq ORDER BY v.seq) FROM (
                SELECT a.change_seq FROM attendee a WHERE a.id = p_attendee
                UNION ALL
                SELECT p.change_seq FROM person p
                 WHERE p.id = (SELECT a.person_id FROM attendee a WHERE a.id = p_attendee)
                UNION ALL
                SELECT o.change_seq FROM "order" o WHERE o.id = v_order
                UNION ALL
                SELECT li.change_seq FROM order_line_item li WHERE li.order_id = v_order
                UNION ALL
                SELECT t.change_seq FROM ticket_type t WHERE t.conference_id = p_conference
                UNION ALL
                SELECT t.change_seq FROM addon t WHERE t.conference_id = p_conference
            ) AS v(seq)))
        OR (p_records IS NOT NULL AND p_records IS DISTINCT FROM ARRAY[
            coalesce((SELECT max(c.id) FROM check_in c WHERE c.attendee_id = p_attendee), 0),
            coalesce((SELECT max(r.id) FROM product_redemption r
                       WHERE r.attendee_id = p_attendee AND r.order_line_item_id IN (
                           SELECT li.id FROM order_line_item li WHERE li.order_id = v_order)), 0),
            coalesce((SELECT max(d.id) FROM door_check d WHERE d.attendee_id = p_attendee), 0),
            coalesce((SELECT max(s.id) FROM scan_void s WHERE s.attendee_id = p_attendee), 0)
        ]::bigint[]) THEN
            RETURN QUERY SELECT @STALE@;
            RETURN;
        END IF;
    END IF;
"""
_STALE = {
    "station_check_in": "'stale'::text, NULL::timestamptz, NULL::text",
    "station_admit": "'stale'::text, NULL::timestamptz",
    "station_redeem_line": "'stale'::text, NULL::timestamptz",
}


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_functions(schema: str) -> dict[str, str]:
    """0016's three guarded writes for ``schema`` (quoted), as CREATE statements."""
    made = {}
    for text in _revision("0014_event_rules.py").pg_functions(schema):
        for name in OLD:
            if f"FUNCTION {name}(" in text:
                made[name] = text
    made["station_redeem_line"] = _revision("0016_daily_limit_by_order_lines.py").pg_functions(
        schema
    )[0]
    return {
        name: text.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1)
        for name, text in made.items()
    }


def new_functions(schema: str) -> dict[str, str]:
    """The same functions with the version premise, for ``schema`` (quoted)."""
    made = {}
    for name, text in old_functions(schema).items():
        head, body = text.split("RETURNS TABLE", 1)
        assert head.rstrip().endswith("p_code text)"), name
        head = (
            head.rstrip()[: -len(")")]
            + ", p_versions bigint[] DEFAULT NULL, p_records bigint[] DEFAULT NULL)\n"
        )
        assert body.count(_GUARD_END) == 1, name
        premise = _PREMISE.replace("@STALE@", _STALE[name])
        made[name] = head + "RETURNS TABLE" + body.replace(_GUARD_END, _GUARD_END + premise, 1)
    return made


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def _regrant(signatures: Sequence[str]) -> None:
    """EXECUTE on ``signatures`` for every station role that still exists."""
    grants = " ".join(
        f"EXECUTE format('GRANT EXECUTE ON FUNCTION {s} TO %I', r.role_name);" for s in signatures
    )
    op.execute(
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT b.role_name FROM station_role_conference b "
        "JOIN pg_roles g ON g.rolname = b.role_name LOOP "
        f"{grants} END LOOP; END $$"
    )


def _replace(drop: dict[str, str], create: dict[str, str], signatures: dict[str, str]) -> None:
    for signature in drop.values():
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for name, text in create.items():
        op.execute(text)
        op.execute(f"REVOKE ALL ON FUNCTION {signatures[name]} FROM PUBLIC")
    _regrant(list(signatures.values()))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(OLD, new_functions(_schema()), NEW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(NEW, old_functions(_schema()), OLD)
