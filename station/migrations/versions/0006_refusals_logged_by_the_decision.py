"""PostgreSQL: a redemption retry before an unknown product; refusals logged where decided

Found by the differential test (tests/services/test_differential.py), which
runs random event days through every path and compares them:

- station_redeem() answered "unknown product" to a retry of a recorded scan;
  the general path (and the README: "retrying is safe") answers a retry with
  its original first. The function now looks for the original before it says
  the product is unknown (only then: a known product still costs no extra look).
- The refusals that name the product ("not purchased", "fully redeemed") were
  logged by the station in a second statement after the function returned, so
  a fault between the two showed a refusal the scan log never got. The
  function now writes that scan-log row itself, in its own transaction, in the
  words the station passes in ``p_refusals`` under "#not_purchased",
  "#not_on_order" and "#fully_redeemed" as format() strings (made by the
  Python rule; see station.services.hot_paths.refusals_json). The signature,
  and so the station role's grant, stays.
- station_display_safe(text, limit): the cleaning of station.text.display_safe
  for names the database words (the product name in those refusals; the door
  statement's "not purchased"), one function instead of a copy per statement.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision(filename: str) -> ModuleType:
    """An earlier migration's module, for its function text (kept, so downgrades work)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Tab, newline and return become spaces, other controls go (0002's UNSAFE); over the
# limit, cut to limit - 1 characters and an ellipsis. Inlined where it is used.
DISPLAY_SAFE = r"""
CREATE OR REPLACE FUNCTION station_display_safe(p_text text, p_limit integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(translate(p_text, @UNSAFE@, '   ')) > p_limit
                THEN left(translate(p_text, @UNSAFE@, '   '), p_limit - 1) || '…'
                ELSE translate(p_text, @UNSAFE@, '   ') END
$$
"""

# Same signature and result columns as 0002 and 0004; a new body.
BODY = r"""
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
BEGIN
    SELECT c.id, c.timezone, ad.id, ad.name
      INTO r_conference_id, r_timezone, v_addon_id, r_product_name
      FROM conference c
      LEFT JOIN addon ad ON ad.conference_id = c.id AND ad.slug = p_addon
     WHERE c.slug = p_conference;
    IF NOT FOUND THEN
        r_outcome := 'no_conference';
        RETURN;
    END IF;
    IF p_addon IS NOT NULL AND v_addon_id IS NULL THEN
        -- A retry of a recorded scan is answered with its original, whatever the product.
        PERFORM 1 FROM product_redemption pr WHERE pr.client_id = p_client_id;
        IF FOUND THEN
            SELECT * INTO STRICT r_outcome, r_conference_id, r_timezone, r_attendee_id,
                   r_access_code, r_first_name, r_last_name, r_username, r_order_status,
                   r_product_name, r_line_item_id, r_redeemed, r_quantity, r_last_redeemed_at,
                   r_last_station, r_redeemed_at
              FROM station_redeem_original(p_client_id, p_conference);
            RETURN;
        END IF;
        r_outcome := 'no_product';
        RETURN;
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
        -- A retry of a scan recorded for an attendee this station cannot see.
        PERFORM 1 FROM product_redemption pr WHERE pr.client_id = p_client_id;
        IF FOUND THEN
            SELECT * INTO STRICT r_outcome, r_conference_id, r_timezone, r_attendee_id,
                   r_access_code, r_first_name, r_last_name, r_username, r_order_status,
                   r_product_name, r_line_item_id, r_redeemed, r_quantity, r_last_redeemed_at,
                   r_last_station, r_redeemed_at
              FROM station_redeem_original(p_client_id, p_conference);
            RETURN;
        END IF;
        INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action,
                              code, outcome, reason, message)
        VALUES (r_conference_id, NULL, p_now, p_station, p_staff_id, 'redeem',
                p_refused_code, 'refused', 'not_found', left(p_not_found, 300));
        r_outcome := 'not_found';
        RETURN;
    END IF;

    -- A retry of a scan already recorded (looked for under the lock, so a retry racing
    -- its original finds it): answer with the original, whatever has changed since.
    PERFORM 1 FROM product_redemption pr WHERE pr.client_id = p_client_id;
    IF FOUND THEN
        SELECT * INTO STRICT r_outcome, r_conference_id, r_timezone, r_attendee_id, r_access_code,
               r_first_name, r_last_name, r_username, r_order_status, r_product_name,
               r_line_item_id, r_redeemed, r_quantity, r_last_redeemed_at, r_last_station,
               r_redeemed_at
          FROM station_redeem_original(p_client_id, p_conference);
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

    FOR v_line IN
        SELECT li.id, li.quantity, ad.name,
               (SELECT count(*) FROM product_redemption pr
                 WHERE pr.attendee_id = r_attendee_id AND pr.order_line_item_id = li.id) AS used
          FROM order_line_item li
          JOIN addon ad ON ad.id = li.addon_id
         WHERE li.order_id = v_order_id
           AND (p_line_item IS NULL OR li.id = p_line_item)
           AND (v_addon_id IS NULL OR li.addon_id = v_addon_id)
         ORDER BY li.id
    LOOP
        IF cardinality(v_lines) = 0 THEN
            r_product_name := v_line.name;  -- the first line names the product
        END IF;
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
        v_refusal := p_refusals -> CASE WHEN p_line_item IS NULL THEN '#not_purchased'
                                        ELSE '#not_on_order' END;
    ELSIF v_chosen IS NULL THEN
        SELECT pr.redeemed_at, pr.station INTO r_last_redeemed_at, r_last_station
          FROM product_redemption pr
         WHERE pr.attendee_id = r_attendee_id AND pr.order_line_item_id = ANY (v_lines)
         ORDER BY pr.redeemed_at DESC, pr.id DESC
         LIMIT 1;
        r_redeemed := v_used;
        r_quantity := v_quantity;
        r_outcome := 'fully_redeemed';
        v_refusal := p_refusals -> '#fully_redeemed';
    END IF;
    IF r_outcome IS NOT NULL THEN
        -- Logged here, in the words the station passed, in the same transaction as the
        -- decision. (A caller that passed no words logs the refusal itself.)
        IF v_refusal IS NOT NULL THEN
            INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id,
                                  action, code, outcome, reason, message)
            VALUES (r_conference_id, r_attendee_id, p_now, p_station, p_staff_id, 'redeem',
                    p_refused_code, 'refused', v_refusal ->> 0,
                    left(format(v_refusal ->> 1, station_display_safe(r_product_name, 80),
                                r_redeemed, r_quantity), 300));
        END IF;
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

    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action,
                          code, outcome, reason, message)
    VALUES (r_conference_id, r_attendee_id, p_now, p_station, p_staff_id, 'redeem',
            p_code, 'accepted', 'ok', station_display_safe(r_product_name, 80));

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
    first = _revision("0002_redeem_function.py")
    bind.exec_driver_sql(DISPLAY_SAFE.replace("@UNSAFE@", first.UNSAFE))
    signature = first.REDEEM[: first.REDEEM.index("DECLARE")]
    bind.exec_driver_sql(signature + BODY.lstrip("\n"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    first = _revision("0002_redeem_function.py")
    leaner = _revision("0004_leaner_scan_writes.py")
    signature = first.REDEEM[: first.REDEEM.index("DECLARE")]
    function = signature + leaner.BODY.lstrip("\n")
    bind.exec_driver_sql(function.replace("@UNSAFE@", first.UNSAFE))
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS station_display_safe(text, integer)")
