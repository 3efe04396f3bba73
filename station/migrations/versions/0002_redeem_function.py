"""PostgreSQL: redeem one unit in one round trip, correct under any contention

A single SQL statement cannot both wait for a lock and count what was
committed while it waited (its snapshot predates the wait), so the meal
line's check-lock-count-insert runs as a PL/pgSQL function: each statement
inside it takes a fresh snapshot, and the attendee row lock makes every
redemption of one attendee queue behind the previous one. The truth stays
the product_redemption rows (no counter to keep in step with imports).
SQLite needs none of this: its transactions take the write lock at BEGIN.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same cleaning as station.text.display_safe, for the scan-log message the
# function writes: tab, newline and return become spaces; the other C0/C1
# controls and the bidi controls go (one translate(), far cheaper than a regex).
_SPACED = "\t\n\r"
_REMOVED = (
    "".join(chr(c) for c in (*range(1, 32), *range(0x7F, 0xA0)) if chr(c) not in _SPACED)
    + "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
UNSAFE = "E'" + "".join(f"\\u{ord(ch):04x}" for ch in _SPACED + _REMOVED) + "'"

# The result of an earlier redemption, rebuilt for a retry of it: the count is of the
# attendee's redemptions of that line up to and including it. Without a conference
# of that slug holding the attendee, the caller falls back to the general path.
ORIGINAL = r"""
CREATE OR REPLACE FUNCTION station_redeem_original(
    p_client_id uuid,
    p_conference text,
    OUT r_outcome text,
    OUT r_conference_id integer,
    OUT r_timezone text,
    OUT r_attendee_id integer,
    OUT r_access_code text,
    OUT r_first_name text,
    OUT r_last_name text,
    OUT r_username text,
    OUT r_order_status text,
    OUT r_product_name text,
    OUT r_line_item_id integer,
    OUT r_redeemed bigint,
    OUT r_quantity bigint,
    OUT r_last_redeemed_at timestamptz,
    OUT r_last_station text,
    OUT r_redeemed_at timestamptz
)
LANGUAGE sql STABLE AS $$
    SELECT 'replay'::text, c.id, c.timezone::text, a.id, a.access_code::text,
           p.first_name::text, p.last_name::text, p.username::text, o.status::text,
           ad.name::text, li.id,
           (SELECT count(*) FROM product_redemption e
             WHERE e.attendee_id = pr.attendee_id
               AND e.order_line_item_id = pr.order_line_item_id AND e.id <= pr.id),
           li.quantity::bigint, NULL::timestamptz, NULL::text, pr.redeemed_at
      FROM product_redemption pr
      JOIN attendee a ON a.id = pr.attendee_id
      JOIN person p ON p.id = a.person_id
      LEFT JOIN "order" o ON o.id = a.order_id
      JOIN order_line_item li ON li.id = pr.order_line_item_id
      LEFT JOIN addon ad ON ad.id = li.addon_id
      LEFT JOIN conference c ON c.slug = p_conference AND c.id = a.conference_id
     WHERE pr.client_id = p_client_id
$$
"""

REDEEM = r"""
CREATE OR REPLACE FUNCTION station_redeem(
    p_conference text,
    p_code text,
    p_refused_code text,
    p_addon text,
    p_line_item integer,
    p_client_id uuid,
    p_now timestamptz,
    p_station text,
    p_staff_id integer,
    p_note text,
    p_refusals jsonb,
    p_not_found text,
    OUT r_outcome text,
    OUT r_conference_id integer,
    OUT r_timezone text,
    OUT r_attendee_id integer,
    OUT r_access_code text,
    OUT r_first_name text,
    OUT r_last_name text,
    OUT r_username text,
    OUT r_order_status text,
    OUT r_product_name text,
    OUT r_line_item_id integer,
    OUT r_redeemed bigint,
    OUT r_quantity bigint,
    OUT r_last_redeemed_at timestamptz,
    OUT r_last_station text,
    OUT r_redeemed_at timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
    v_addon_id integer;
    v_order_id integer;
    v_refusal jsonb;
    v_line record;
    v_lines integer[] := '{}';
    v_chosen integer;
    v_chosen_used bigint;
    v_chosen_quantity bigint;
    v_used bigint := 0;
    v_quantity bigint := 0;
    v_inserted integer;
    v_message text;
BEGIN
    -- A retry of a scan already recorded: answer with the original.
    PERFORM 1 FROM product_redemption pr WHERE pr.client_id = p_client_id;
    IF FOUND THEN
        SELECT * INTO STRICT r_outcome, r_conference_id, r_timezone, r_attendee_id, r_access_code,
               r_first_name, r_last_name, r_username, r_order_status, r_product_name,
               r_line_item_id, r_redeemed, r_quantity, r_last_redeemed_at, r_last_station,
               r_redeemed_at
          FROM station_redeem_original(p_client_id, p_conference);
        RETURN;
    END IF;

    SELECT c.id, c.timezone INTO r_conference_id, r_timezone
      FROM conference c WHERE c.slug = p_conference;
    IF NOT FOUND THEN
        r_outcome := 'no_conference';
        RETURN;
    END IF;

    IF p_addon IS NOT NULL THEN
        SELECT ad.id, ad.name INTO v_addon_id, r_product_name
          FROM addon ad WHERE ad.conference_id = r_conference_id AND ad.slug = p_addon;
        IF NOT FOUND THEN
            r_outcome := 'no_product';
            RETURN;
        END IF;
    END IF;

    -- Redemptions of one attendee queue on this row lock; every statement below
    -- starts after it is granted, so it sees every redemption committed before.
    SELECT a.id, a.access_code, a.order_id, p.first_name, p.last_name, p.username, o.status
      INTO r_attendee_id, r_access_code, v_order_id, r_first_name, r_last_name, r_username,
           r_order_status
      FROM attendee a
      JOIN person p ON p.id = a.person_id
      LEFT JOIN "order" o ON o.id = a.order_id
     WHERE a.conference_id = r_conference_id AND a.access_code = p_code
       FOR NO KEY UPDATE OF a;
    IF NOT FOUND THEN
        INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action,
                              code, outcome, reason, message)
        VALUES (r_conference_id, NULL, p_now, p_station, p_staff_id, 'redeem',
                p_refused_code, 'refused', 'not_found', left(p_not_found, 300));
        r_outcome := 'not_found';
        RETURN;
    END IF;

    v_refusal := p_refusals -> coalesce(r_order_status, '');
    IF v_refusal IS NOT NULL THEN
        INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action,
                              code, outcome, reason, message)
        VALUES (r_conference_id, r_attendee_id, p_now, p_station, p_staff_id, 'redeem',
                p_refused_code, 'refused', v_refusal ->> 0, left(v_refusal ->> 1, 300));
        r_outcome := 'refused';
        RETURN;
    END IF;

    -- Looked at again under the lock: a concurrent retry of this scan may have just committed.
    PERFORM 1 FROM product_redemption pr WHERE pr.client_id = p_client_id;
    IF FOUND THEN
        SELECT * INTO STRICT r_outcome, r_conference_id, r_timezone, r_attendee_id, r_access_code,
               r_first_name, r_last_name, r_username, r_order_status, r_product_name,
               r_line_item_id, r_redeemed, r_quantity, r_last_redeemed_at, r_last_station,
               r_redeemed_at
          FROM station_redeem_original(p_client_id, p_conference);
        RETURN;
    END IF;

    FOR v_line IN
        SELECT li.id, li.quantity,
               (SELECT count(*) FROM product_redemption pr
                 WHERE pr.attendee_id = r_attendee_id AND pr.order_line_item_id = li.id) AS used
          FROM order_line_item li
         WHERE li.order_id = v_order_id
           AND li.addon_id IS NOT NULL
           AND (p_line_item IS NULL OR li.id = p_line_item)
           AND (v_addon_id IS NULL OR li.addon_id = v_addon_id)
         ORDER BY li.id
    LOOP
        v_lines := v_lines || v_line.id;
        v_used := v_used + v_line.used;
        v_quantity := v_quantity + v_line.quantity;
        IF v_chosen IS NULL AND v_line.used < v_line.quantity THEN
            v_chosen := v_line.id;
            v_chosen_used := v_line.used;
            v_chosen_quantity := v_line.quantity;
        END IF;
    END LOOP;

    IF cardinality(v_lines) = 0 THEN
        r_outcome := 'not_purchased';
        RETURN;
    END IF;

    SELECT ad.name INTO r_product_name
      FROM order_line_item li JOIN addon ad ON ad.id = li.addon_id
     WHERE li.id = v_lines[1];

    IF v_chosen IS NULL THEN
        SELECT pr.redeemed_at, pr.station INTO r_last_redeemed_at, r_last_station
          FROM product_redemption pr
         WHERE pr.attendee_id = r_attendee_id AND pr.order_line_item_id = ANY (v_lines)
         ORDER BY pr.redeemed_at DESC, pr.id DESC
         LIMIT 1;
        r_redeemed := v_used;
        r_quantity := v_quantity;
        r_outcome := 'fully_redeemed';
        RETURN;
    END IF;

    INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, conference_id,
                                    redeemed_at, staff_id, station, note)
    VALUES (p_client_id, r_attendee_id, v_chosen, r_conference_id, p_now, p_staff_id,
            p_station, p_note)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_inserted;
    IF v_inserted IS NULL THEN
        r_outcome := 'replay';
        RETURN;
    END IF;

    v_message := translate(r_product_name, @UNSAFE@, '   ');
    IF length(v_message) > 80 THEN
        v_message := left(v_message, 79) || '…';
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action,
                          code, outcome, reason, message)
    VALUES (r_conference_id, r_attendee_id, p_now, p_station, p_staff_id, 'redeem',
            p_code, 'accepted', 'ok', v_message);

    r_line_item_id := v_chosen;
    r_redeemed_at := p_now;
    IF v_addon_id IS NOT NULL THEN
        -- A product spread over several lines reports the totals of all of them.
        r_redeemed := v_used + 1;
        r_quantity := v_quantity;
    ELSE
        r_redeemed := v_chosen_used + 1;
        r_quantity := v_chosen_quantity;
    END IF;
    r_outcome := 'ok';
END
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Sent as is: no bind-parameter parsing of the function bodies.
    bind.exec_driver_sql(ORIGINAL)
    bind.exec_driver_sql(REDEEM.replace("@UNSAFE@", UNSAFE))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP FUNCTION IF EXISTS station_redeem(text, text, text, text, integer, uuid, "
        "timestamptz, text, integer, text, jsonb, text)"
    )
    op.execute("DROP FUNCTION IF EXISTS station_redeem_original(uuid, text)")
