"""Station heartbeats: one row per station, for the organisers' dashboard

- station_health: a station's latest heartbeat (mode, product, operator, version,
  online or offline, journal backlog, last scan, scans and refusals in the last minute,
  p50/p95 scan-to-verdict measured on its screen, how often it beats). One row per
  (conference, station), overwritten by each beat: the dashboard reads the whole event
  from this small table, and a beat is one statement whatever the number of scans.
- PostgreSQL: station_heartbeat() writes it (insert or update) at the server's time and
  notifies ``station_health`` with the conference id, so a dashboard listening there
  refreshes at once. A station role may call it for its own conference only; it has no
  other access to the table (not even SELECT: one station need not see the others).
  ``beat_at`` is now(), the real time, never the demo clock (station_now()): a lost
  station is told by the server's real clock.
- SQLite: the station writes the row itself (it is its own server there).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"
HEARTBEAT_FUNCTION = (
    "station_heartbeat(text, text, text, text, text, text, boolean, boolean, integer, "
    "timestamptz, integer, integer, double precision, double precision, double precision, "
    "timestamptz)"
)

PG_HEARTBEAT = rf"""
CREATE FUNCTION station_heartbeat(
    p_conference text, p_station text, p_mode text, p_product text, p_operator text,
    p_version text, p_closing boolean, p_online boolean, p_backlog integer,
    p_last_scan_at timestamptz, p_scans integer, p_refusals integer,
    p_p50_ms double precision, p_p95_ms double precision, p_every_s double precision,
    p_started_at timestamptz)
RETURNS void
{_OPTIONS} AS $$
DECLARE
    v_conference integer;
BEGIN
    SELECT c.id INTO v_conference FROM conference c WHERE c.slug = p_conference;
    IF v_conference IS NULL THEN
        RAISE EXCEPTION 'no conference %', p_conference USING ERRCODE = 'check_violation';
    ELSIF EXISTS (SELECT 1 FROM station_role_conference b
                   WHERE b.role_name = session_user AND b.conference_id <> v_conference) THEN
        RAISE EXCEPTION 'role % beats only for its own conference', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO station_health AS h (
        conference_id, station, mode, product, operator, version, state, online, backlog,
        last_scan_at, scans_1m, refusals_1m, p50_ms, p95_ms, every_s, started_at, beat_at,
        beats)
    VALUES (
        v_conference, left(p_station, 100), left(p_mode, 20), left(p_product, 200),
        left(p_operator, 200), left(p_version, 40),
        CASE WHEN p_closing THEN 'closed' ELSE 'running' END, p_online,
        -- greatest() skips NULL: a station without offline mode keeps a NULL backlog.
        CASE WHEN p_backlog < 0 THEN 0 ELSE p_backlog END, p_last_scan_at,
        greatest(p_scans, 0), greatest(p_refusals, 0),
        p_p50_ms, p_p95_ms, least(greatest(p_every_s, 1), 3600), p_started_at, now(), 1)
    ON CONFLICT (conference_id, station) DO UPDATE SET
        mode = EXCLUDED.mode, product = EXCLUDED.product, operator = EXCLUDED.operator,
        version = EXCLUDED.version, state = EXCLUDED.state, online = EXCLUDED.online,
        backlog = EXCLUDED.backlog, last_scan_at = EXCLUDED.last_scan_at,
        scans_1m = EXCLUDED.scans_1m, refusals_1m = EXCLUDED.refusals_1m,
        p50_ms = EXCLUDED.p50_ms, p95_ms = EXCLUDED.p95_ms, every_s = EXCLUDED.every_s,
        started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at, beats = h.beats + 1;
    PERFORM pg_notify('station_health', v_conference::text);
END
$$;
"""


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_table(
        "station_health",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("operator", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("backlog", sa.Integer(), nullable=True),
        sa.Column("last_scan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scans_1m", sa.Integer(), nullable=False),
        sa.Column("refusals_1m", sa.Integer(), nullable=False),
        sa.Column("p50_ms", sa.Double(), nullable=True),
        sa.Column("p95_ms", sa.Double(), nullable=True),
        sa.Column("every_s", sa.Double(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beats", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("state IN ('running', 'closed')", name=op.f("ck_station_health_state")),
        sa.PrimaryKeyConstraint("conference_id", "station", name=op.f("pk_station_health")),
    )
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()
        op.execute(PG_HEARTBEAT.replace("@SCHEMA@", schema))
        op.execute(f"REVOKE ALL ON FUNCTION {HEARTBEAT_FUNCTION} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {HEARTBEAT_FUNCTION}")
    op.drop_table("station_health")
