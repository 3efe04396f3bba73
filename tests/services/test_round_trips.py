"""Round trips per scan on PostgreSQL, counted on the wire, so none can creep in unnoticed.

What is counted: every time the station sends to the server after having
received from it (or first), through a TCP proxy between them: the number of
times a scan waits a full network round trip. BEGIN and COMMIT would each be
one; the PostgreSQL store runs in autocommit instead: one read of the facts,
then one call of a guarded function that records the decision (or logs the
refusal), so a scan costs two round trips, a replayed retry or a lookup one. Counted
after a warm-up, as a station runs all day: the connection is open and
psycopg has prepared the statements (preparing costs one extra trip, once per
statement and connection).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from station.bench.tcp_proxy import TcpProxy, running_proxy
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.domain import OrderStatus
from station.models import utcnow
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.results import StationContext
from station.services.store_pg import PgStore
from tests.builders import ConferenceBuilder
from tests.conftest import PG_URL
from tests.services.scenario import Refused, outcome

pytestmark = pytest.mark.postgres


def proxied_settings(settings: DatabaseSettings, proxy: TcpProxy) -> DatabaseSettings:
    url = make_url(PG_URL).set(host="127.0.0.1", port=proxy.port)
    return replace(settings, url=url.render_as_string(hide_password=False))


@pytest.fixture
def through_proxy(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> Iterator[tuple[TcpProxy, Engine]]:
    real = make_url(PG_URL)
    with running_proxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        engine = make_engine(proxied_settings(postgres_schema, proxy))
        yield proxy, engine
        engine.dispose()


def trips(proxy: TcpProxy, call: Callable[[], object]) -> int:
    before = proxy.round_trips
    outcome(call)
    return proxy.round_trips - before


def test_every_scan_is_at_most_two_round_trips(through_proxy: tuple[TcpProxy, Engine]) -> None:
    proxy, engine = through_proxy
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    conf.ticket_type("general")
    conf.addon("lunch")
    conf.addon("voucher")
    checkin = CheckInService(sessions)
    redemption = RedemptionService(sessions)
    ctx = StationContext(conf.slug, "Desk 1", conf.staff("Ana"))
    people = [conf.attendee(addons={"lunch": 1, "voucher": 2}) for _ in range(5)]
    cancelled = conf.attendee(status=OrderStatus.CANCELLED)

    def scans(code: str, line_item_id: int) -> dict[str, Callable[[], object]]:
        return {
            "lookup": lambda: checkin.lookup_attendee(ctx, code),
            "check-in": lambda: checkin.check_in(ctx, code),
            "re-entry": lambda: checkin.check_in(ctx, code),
            "door check": lambda: checkin.record_door_check(ctx, code, product="ticket:general"),
            "meal redeem": lambda: redemption.redeem_product(ctx, code, product="lunch"),
            "redeem from the picker": lambda: redemption.redeem_product(
                ctx, code, line_item_id=line_item_id
            ),
            "redeemable products": lambda: redemption.get_redeemable_products(ctx, code),
            "unknown code": lambda: checkin.check_in(ctx, "NO-SUCH-" + code),
            "cancelled order": lambda: checkin.check_in(ctx, cancelled.access_code),
            "unknown code at the meal line": lambda: redemption.redeem_product(
                ctx, "NO-SUCH-" + code, product="lunch"
            ),
            "bad scan": lambda: checkin.check_in(ctx, "bad code"),
            # Refusals whose words need the product's name: logged by the same statement.
            "fully redeemed": lambda: redemption.redeem_product(ctx, code, product="lunch"),
            "door, not purchased": lambda: checkin.record_door_check(
                ctx, code, product="addon:nothing"
            ),
        }

    conf.addon("nothing")
    for warm_up in people[:3]:
        for scan in scans(warm_up.access_code, warm_up.line_items["voucher"]).values():
            outcome(scan)
    for person in people[3:]:
        counted = {
            name: trips(proxy, scan)
            for name, scan in scans(person.access_code, person.line_items["voucher"]).items()
        }
        assert counted == {
            "lookup": 1,
            "check-in": 2,
            "re-entry": 2,
            "door check": 2,
            "meal redeem": 2,
            "redeem from the picker": 2,
            "redeemable products": 1,
            "unknown code": 2,
            "cancelled order": 2,
            "unknown code at the meal line": 2,
            "bad scan": 1,  # refused before any read: its log row is the only trip
            "fully redeemed": 2,
            "door, not purchased": 2,
        }


def test_every_refused_scan_leaves_its_log_row_in_at_most_two_round_trips(
    through_proxy: tuple[TcpProxy, Engine],
) -> None:
    """A refusal is shown only after its scan-log row is written: nothing after it can lose it."""
    proxy, engine = through_proxy
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    conf.ticket_type("general")
    conf.addon("lunch")
    conf.addon("tutorial")
    checkin = CheckInService(sessions)
    redemption = RedemptionService(sessions)
    ctx = StationContext(conf.slug, "Desk 1", conf.staff("Ana"))
    other = conf.attendee(addons={"lunch": 1})
    cancelled = conf.attendee(status=OrderStatus.CANCELLED)
    no_order = conf.attendee(status=None)

    def refusals(code: str, own_line: int) -> dict[str, Callable[[], object]]:
        return {
            "unknown badge": lambda: checkin.check_in(ctx, "NO-SUCH-" + code),
            "bad scan": lambda: redemption.redeem_product(ctx, "bad code", product="lunch"),
            "cancelled order": lambda: checkin.check_in(ctx, cancelled.access_code),
            "no order, door": lambda: checkin.record_door_check(
                ctx, no_order.access_code, product="ticket:general"
            ),
            "no order, meal": lambda: redemption.redeem_product(
                ctx, no_order.access_code, product="lunch"
            ),
            "door, not purchased": lambda: checkin.record_door_check(
                ctx, code, product="addon:tutorial"
            ),
            "meal, not purchased": lambda: redemption.redeem_product(ctx, code, product="tutorial"),
            "picker, another's line": lambda: redemption.redeem_product(
                ctx, code, line_item_id=other.line_items["lunch"]
            ),
            "meal, fully redeemed": lambda: redemption.redeem_product(ctx, code, product="lunch"),
            "picker, fully redeemed": lambda: redemption.redeem_product(
                ctx, code, line_item_id=own_line
            ),
        }

    people = [conf.attendee(addons={"lunch": 1}) for _ in range(4)]
    for person in people:
        redemption.redeem_product(ctx, person.access_code, product="lunch")
    for warm_up in people[:3]:
        for scan in refusals(warm_up.access_code, warm_up.line_items["lunch"]).values():
            outcome(scan)
    person = people[3]
    for name, scan in refusals(person.access_code, person.line_items["lunch"]).items():
        logged_before = _scan_log(engine)
        before = proxy.round_trips
        refused = outcome(scan)
        assert proxy.round_trips - before == (1 if name == "bad scan" else 2), name
        assert isinstance(refused, Refused), name
        assert _scan_log(engine) == [
            *logged_before,
            (
                "refused",
                refused.reason,
                refused.message,
                dict(refused.attributes).get("attendee_id"),
            ),
        ], name


def _scan_log(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT outcome, reason, message, attendee_id FROM scan_log ORDER BY id"
        )
        return [tuple(row) for row in rows]


def test_a_retry_is_one_round_trip_and_writes_nothing(
    through_proxy: tuple[TcpProxy, Engine],
) -> None:
    proxy, engine = through_proxy
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    conf.ticket_type("general")
    conf.addon("lunch")
    checkin = CheckInService(sessions)
    redemption = RedemptionService(sessions)
    ctx = StationContext(conf.slug, "Desk 1")
    people = [conf.attendee(addons={"lunch": 1}) for _ in range(4)]

    def writes(code: str, ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID]) -> dict[str, object]:
        return {
            "check-in": lambda: checkin.check_in(ctx, code, client_id=ids[0]),
            "door check": lambda: checkin.record_door_check(
                ctx, code, product="ticket:general", client_id=ids[1]
            ),
            "meal redeem": lambda: redemption.redeem_product(
                ctx, code, product="lunch", client_id=ids[2]
            ),
        }

    for person in people:
        ids = (uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
        originals = {name: scan() for name, scan in writes(person.access_code, ids).items()}
        retries = writes(person.access_code, ids)
        if person is people[-1]:
            assert {name: trips(proxy, scan) for name, scan in retries.items()} == {
                "check-in": 1,
                "door check": 1,
                "meal redeem": 1,
            }
        else:
            for name, scan in retries.items():
                replay = scan()
                assert replay.replayed, name  # type: ignore[attr-defined]
                assert replay.client_id == originals[name].client_id  # type: ignore[attr-defined]


def test_counts_after_a_scan_are_one_round_trip(through_proxy: tuple[TcpProxy, Engine]) -> None:
    proxy, engine = through_proxy
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    checkin = CheckInService(sessions)
    ctx = StationContext(conf.slug, "Desk 1")
    for _ in range(3):
        checkin.check_in(ctx, conf.attendee().access_code)
        checkin.counts(ctx)
    assert trips(proxy, lambda: checkin.counts(ctx)) == 1


def test_scan_statements_fit_psycopgs_parse_cache() -> None:
    """psycopg re-parses a query over 4 KB on every run (a tenth of a millisecond)."""
    from sqlalchemy.dialects.postgresql import psycopg

    from station.services import hot_sql, store_pg

    dialect = psycopg.dialect()  # type: ignore[no-untyped-call]
    assert len(str(hot_sql.COUNTS.compile(dialect=dialect))) <= 4096
    for action in ("checkin", "door", "redeem", "lookup"):
        for target in (None, "ticket", "addon"):
            for by_id in (False, True):
                assert len(store_pg.facts_sql(action, target, by_id)) <= 4096, action
    for name in ("CHECK_IN", "ADMIT", "REDEEM", "LOG_SCAN"):
        assert len(getattr(store_pg, name)) <= 4096, name


def test_a_connection_idle_for_long_is_pinged_first(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> None:
    real = make_url(PG_URL)
    with running_proxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        settings = replace(proxied_settings(postgres_schema, proxy), ping_after_idle_s=0)
        engine = make_engine(settings)
        sessions = make_session_factory(engine)
        conf = ConferenceBuilder(sessions)
        checkin = CheckInService(sessions)
        ctx = StationContext(conf.slug, "Desk 1")
        codes = [conf.attendee().access_code for _ in range(4)]
        for code in codes[:3]:
            checkin.lookup_attendee(ctx, code)
        assert trips(proxy, lambda: checkin.lookup_attendee(ctx, codes[3])) == 2
        engine.dispose()


def test_on_the_snapshot_first_a_check_in_or_a_meal_is_one_round_trip(
    through_proxy: tuple[TcpProxy, Engine], tmp_path: Path
) -> None:
    """A PostgreSQL station's default (offline mode on): facts from its snapshot, then the
    guarded write alone. A refusal is still decided and logged on a read: two, as above."""
    proxy, engine = through_proxy
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    conf.ticket_type("general")
    conf.addon("lunch")
    ctx = StationContext(conf.slug, "Desk 1", conf.staff("Ana"))
    people = [conf.attendee(addons={"lunch": 1}) for _ in range(16)]
    snapshot = Snapshot(tmp_path / "copy.sqlite3")
    SnapshotSync(engine, snapshot, conf.slug).fill()
    snapshot.hold()
    pg = PgStore(engine, utcnow)
    store = SnapshotFirstStore(pg, snapshot, utcnow, max_age=timedelta(hours=1))
    checkin = CheckInService(sessions, store=store)
    redemption = RedemptionService(sessions, store=store)

    def scans(checked: str, fed: str) -> dict[str, Callable[[], object]]:
        return {
            "check-in": lambda: checkin.check_in(ctx, checked),
            "meal redeem": lambda: redemption.redeem_product(ctx, fed, product="lunch"),
            # Its own write is not in the copy yet: read, then the refusal's log row.
            "fully redeemed": lambda: redemption.redeem_product(ctx, fed, product="lunch"),
        }

    codes = [person.access_code for person in people]
    for checked, fed in zip(codes[0:12:2], codes[1:12:2], strict=True):  # connect, prepare
        for scan in scans(checked, fed).values():
            outcome(scan)
    assert store.first_tries_recorded > 0
    for checked, fed in zip(codes[12::2], codes[13::2], strict=True):
        counted = {name: trips(proxy, scan) for name, scan in scans(checked, fed).items()}
        assert counted == {"check-in": 1, "meal redeem": 1, "fully redeemed": 2}
