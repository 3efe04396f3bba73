"""PostgreSQL statements for the scan hot paths: each scan is one statement, one round trip.

Each statement looks the attendee up, decides, writes (the record, the first
check-in time, the scan log row) and returns everything the screen shows, so
over venue Wi-Fi a scan costs one network round trip. They run in autocommit:
one statement is one transaction, all or nothing.

Every statement returns exactly one row, also when nothing matched, so the
caller can tell an unknown conference (write nothing) from an unknown badge
(log the refusal, which the statement already did). Writes carry the client
id with ``ON CONFLICT (client_id) DO NOTHING``: a retry racing its original
writes nothing and is answered from the original.
"""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import TextClause
from sqlalchemy import text as _text

# Every parameter is cast, so a None or a string is never left for PostgreSQL to guess.
_PARAMETER_TYPES = {
    "conference": "text",
    "code": "text",
    "refused_code": "text",
    "refusals": "jsonb",
    "not_found_message": "text",
    "client_id": "uuid",
    "now": "timestamptz",
    "station": "text",
    "staff_id": "integer",
    "note": "text",
    "kind": "text",
    "product": "text",
    "addon": "text",
    "line_item_id": "integer",
    "attendee_id": "integer",
    "action": "text",
    "reason": "text",
    "message": "text",
    "conference_id": "integer",
    "day_start": "timestamptz",
    "day_end": "timestamptz",
}
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)\b")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def for_psycopg(statement: TextClause) -> str:
    """The statement as psycopg takes it (``%(name)s`` parameters), compiled once."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    return str(statement.compile(dialect=dialect()))  # type: ignore[no-untyped-call]


def text(sql: str) -> TextClause:
    """A statement whose ``:name`` parameters are each cast to their declared type.

    Comments and runs of white space go: psycopg caches the parsing of a query
    only up to 4 KB, and the check-in statement is just under that once compact.
    """
    compact = " ".join(_COMMENT.sub("", sql).split())
    return _text(_PARAMETER.sub(lambda m: f"CAST(:{m[1]} AS {_PARAMETER_TYPES[m[1]]})", compact))


# The attendee behind a code in the station's conference, with what decides the scan:
# ``refusal`` is the [reason, message] pair for an order status that refuses, else NULL.
_CONFERENCE_AND_ATTENDEE = """
conf AS (
    SELECT c.id, c.timezone FROM conference c WHERE c.slug = :conference
),
att AS (
    SELECT a.id, a.access_code, a.order_id, a.checked_in_at, o.status AS order_status,
           o.reference AS order_reference, p.first_name, p.last_name, p.username, p.email,
           :refusals -> coalesce(o.status, '') AS refusal
      FROM conf
      JOIN attendee a ON a.conference_id = conf.id AND a.access_code = :code
      JOIN person p ON p.id = a.person_id
      LEFT JOIN "order" o ON o.id = a.order_id
)"""

# What a badge shows besides the attendee row, as of the statement's snapshot.
_BADGE = """
LEFT JOIN LATERAL (
    SELECT
        (SELECT tt.name FROM order_line_item li JOIN ticket_type tt ON tt.id = li.ticket_type_id
          WHERE li.order_id = att.order_id ORDER BY li.id DESC LIMIT 1) AS ticket_type,
        (SELECT count(*) FROM check_in ci WHERE ci.attendee_id = att.id) AS check_in_count,
        (SELECT json_agg(json_build_array(
                    li.id, ad.slug, ad.name, li.description, li.quantity,
                    (SELECT count(*) FROM product_redemption pr
                      WHERE pr.order_line_item_id = li.id AND pr.attendee_id = att.id))
                 ORDER BY li.id)
           FROM order_line_item li JOIN addon ad ON ad.id = li.addon_id
          WHERE li.order_id = att.order_id) AS products
) AS badge ON att.id IS NOT NULL
LEFT JOIN LATERAL (
    SELECT ci.checked_in_at AS first_at, ci.station AS first_station, s.name AS first_staff
      FROM check_in ci LEFT JOIN staff s ON s.id = ci.staff_id
     WHERE ci.attendee_id = att.id
     ORDER BY ci.checked_in_at, ci.id
     LIMIT 1
) AS first_check_in ON att.id IS NOT NULL"""

_ATTENDEE_COLUMNS = """
conf.id AS conference_id, conf.timezone,
att.id AS attendee_id, att.access_code, att.order_id, att.checked_in_at, att.order_status,
att.order_reference, att.first_name, att.last_name, att.username, att.email, att.refusal,
badge.ticket_type, badge.check_in_count, badge.products,
first_check_in.first_at, first_check_in.first_station, first_check_in.first_staff"""

LOOKUP: TextClause = text(
    f"""
WITH {_CONFERENCE_AND_ATTENDEE}
SELECT {_ATTENDEE_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN conf ON true
  LEFT JOIN att ON true
  {_BADGE}
"""
)

# Log a refused scan whose message only the caller can word.
LOG_REFUSAL: TextClause = text(
    """
INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action, code,
                      outcome, reason, message)
SELECT (SELECT c.id FROM conference c WHERE c.slug = :conference), :attendee_id, :now, :station,
       :staff_id, :action, :code, 'refused', :reason, :message
RETURNING id
"""
)

CHECK_IN: TextClause = text(
    f"""
WITH {_CONFERENCE_AND_ATTENDEE},
prior AS (
    -- A retry of a recorded scan: the original, and whether it was a re-entry.
    SELECT ci.id, ci.attendee_id, ci.checked_in_at,
           EXISTS (SELECT 1 FROM check_in e
                    WHERE e.attendee_id = ci.attendee_id AND e.id < ci.id) AS earlier
      FROM check_in ci WHERE ci.client_id = :client_id
),
go AS (
    SELECT att.id FROM att WHERE att.refusal IS NULL AND NOT EXISTS (SELECT 1 FROM prior)
),
ins AS (
    INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, staff_id,
                          station, note)
    SELECT :client_id, go.id, conf.id, :now, :staff_id, :station, :note FROM go, conf
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id, attendee_id
),
first_time AS (
    -- Guarded, so two desks checking the same person in at once agree on who was first.
    UPDATE attendee SET checked_in_at = :now, updated_at = :now
     WHERE id = (SELECT ins.attendee_id FROM ins) AND checked_in_at IS NULL
    RETURNING id
),
logged AS (
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action, code,
                          outcome, reason, message)
    SELECT conf.id, att.id, :now, :station, :staff_id, 'checkin',
           CASE WHEN ins.id IS NULL THEN :refused_code ELSE :code END,
           CASE WHEN ins.id IS NULL THEN 'refused' ELSE 'accepted' END,
           CASE WHEN ins.id IS NOT NULL THEN
                     CASE WHEN EXISTS (SELECT 1 FROM first_time) THEN 'ok' ELSE 'reentry' END
                WHEN att.id IS NULL THEN 'not_found'
                ELSE att.refusal ->> 0 END,
           CASE WHEN ins.id IS NOT NULL THEN ''
                WHEN att.id IS NULL THEN :not_found_message
                ELSE left(att.refusal ->> 1, 300) END
      FROM conf LEFT JOIN att ON true LEFT JOIN ins ON true
     WHERE NOT EXISTS (SELECT 1 FROM prior)
       AND (ins.id IS NOT NULL OR att.id IS NULL OR att.refusal IS NOT NULL)
    RETURNING id
)
SELECT {_ATTENDEE_COLUMNS},
       prior.id IS NOT NULL AS replay,
       prior.attendee_id AS prior_attendee_id, prior.checked_in_at AS prior_at,
       prior.earlier AS prior_earlier,
       ins.id AS check_in_id,
       EXISTS (SELECT 1 FROM first_time) AS first_time,
       (SELECT s.name FROM staff s WHERE s.id = :staff_id) AS staff_name
  FROM (SELECT 1) AS one
  LEFT JOIN conf ON true
  LEFT JOIN att ON true
  LEFT JOIN ins ON true
  LEFT JOIN prior ON true
  {_BADGE}
"""
)

DOOR_CHECK: TextClause = text(
    f"""
WITH {_CONFERENCE_AND_ATTENDEE},
product AS (
    SELECT tt.id, tt.name FROM conf JOIN ticket_type tt ON tt.conference_id = conf.id
     WHERE :kind = 'ticket' AND tt.slug = :product
    UNION ALL
    SELECT ad.id, ad.name FROM conf JOIN addon ad ON ad.conference_id = conf.id
     WHERE :kind = 'addon' AND ad.slug = :product
),
decided AS (
    SELECT att.id, att.refusal,
           EXISTS (SELECT 1 FROM order_line_item li, product
                    WHERE li.order_id = att.order_id AND li.quantity > 0
                      AND CASE WHEN :kind = 'ticket' THEN li.ticket_type_id
                               ELSE li.addon_id END = product.id) AS bought
      FROM att
),
prior AS (
    SELECT dc.id, dc.attendee_id, dc.checked_at FROM door_check dc WHERE dc.client_id = :client_id
),
ins AS (
    INSERT INTO door_check (client_id, attendee_id, conference_id, ticket_type_id, addon_id,
                            checked_at, staff_id, station)
    SELECT :client_id, decided.id, conf.id,
           CASE WHEN :kind = 'ticket' THEN product.id END,
           CASE WHEN :kind = 'addon' THEN product.id END,
           :now, :staff_id, :station
      FROM decided, conf, product
     WHERE decided.refusal IS NULL AND decided.bought AND NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id
),
logged AS (
    -- Every scan decided here: accepted, unknown badge, refused order, not purchased
    -- (in the caller's words, a format() string for the product's name).
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, action, code,
                          outcome, reason, message)
    SELECT conf.id, att.id, :now, :station, :staff_id, 'door',
           CASE WHEN ins.id IS NULL THEN :refused_code ELSE :code END,
           CASE WHEN ins.id IS NULL THEN 'refused' ELSE 'accepted' END,
           CASE WHEN ins.id IS NOT NULL THEN 'ok'
                WHEN att.id IS NULL THEN 'not_found'
                WHEN att.refusal IS NOT NULL THEN att.refusal ->> 0
                ELSE :refusals -> '#not_purchased' ->> 0 END,
           CASE WHEN ins.id IS NOT NULL THEN ''
                WHEN att.id IS NULL THEN :not_found_message
                WHEN att.refusal IS NOT NULL THEN left(att.refusal ->> 1, 300)
                ELSE left(format(:refusals -> '#not_purchased' ->> 1,
                                 station_display_safe(product.name, 80)), 300) END
      FROM conf CROSS JOIN product LEFT JOIN att ON true LEFT JOIN decided ON true
      LEFT JOIN ins ON true
     WHERE NOT EXISTS (SELECT 1 FROM prior)
       AND (ins.id IS NOT NULL OR att.id IS NULL OR att.refusal IS NOT NULL
            OR NOT decided.bought)
    RETURNING id
)
SELECT conf.id AS conference_id, conf.timezone,
       att.id AS attendee_id, att.access_code, att.order_status, att.first_name, att.last_name,
       att.username, att.refusal,
       product.id AS product_id, product.name AS product_name,
       decided.bought,
       prior.id IS NOT NULL AS replay,
       prior.attendee_id AS prior_attendee_id, prior.checked_at AS prior_at,
       ins.id AS door_check_id
  FROM (SELECT 1) AS one
  LEFT JOIN conf ON true
  LEFT JOIN product ON true
  LEFT JOIN att ON true
  LEFT JOIN decided ON true
  LEFT JOIN ins ON true
  LEFT JOIN prior ON true
"""
)

COUNTS: TextClause = text(
    """
SELECT (SELECT count(*) FROM scan_log s
         WHERE s.conference_id = :conference_id AND s.station = :station
           AND s.outcome = 'accepted'
           AND s.scanned_at >= :day_start AND s.scanned_at < :day_end) AS station_today,
       count(a.checked_in_at) AS conference_checked_in,
       count(*) AS conference_attendees
  FROM attendee a
 WHERE a.conference_id = :conference_id
"""
)

CONFERENCE: TextClause = text(
    "SELECT c.id, c.slug, c.name, c.timezone FROM conference c WHERE c.slug = :conference"
)

REDEEM: TextClause = text(
    """
SELECT * FROM station_redeem(
    :conference, :code, :refused_code, :addon, :line_item_id, :client_id, :now, :station,
    :staff_id, :note, :refusals, :not_found_message)
"""
)
