"""``station dashboard``: the organisers' live view of every station."""

from __future__ import annotations

import sys

import click

from station.cli_base import CliState, SetupFailure, configured_engine


@click.command("dashboard")
@click.option("--conference", metavar="SLUG", help="Which conference (default: the only one).")
@click.option("--demo", is_flag=True, help="Watch the demo's stations (`station demo`'s database).")
@click.option(
    "--every",
    "every_s",
    type=click.FloatRange(min=0.5, max=60),
    default=2.0,
    show_default=True,
    help="Seconds between reads (PostgreSQL also reads at once when a station beats).",
)
@click.option(
    "--totals-every",
    "totals_every_s",
    type=click.FloatRange(min=1, max=600),
    default=10.0,
    show_default=True,
    help="Seconds between reads of check-ins, meals served and rooms (heavier).",
)
@click.pass_obj
def dashboard_cmd(
    state: CliState, conference: str | None, demo: bool, every_s: float, totals_every_s: float
) -> None:
    """Every station of a conference, live: state, rates, refusals, meals and rooms.

    Read-only. Stations report every few seconds (heartbeat_s); one silent for three
    beats is shown LOST. Runs anywhere the database is reachable, over SSH too.
    """
    from dataclasses import replace

    from station import terminal
    from station.demo import DEMO_SLUG
    from station.paths import demo_database_url
    from station.reading import read_connection
    from station.services.conferences import conference_slug
    from station.services.dashboard import BeatListener, DashboardFeed
    from station.tui.dashboard.app import DashboardApp

    refused = terminal.refuse_without_terminal()
    if refused is not None:
        sys.exit(refused)
    if demo:
        state = replace(
            state, env={**state.env, "STATION_DATABASE_URL": demo_database_url(state.env)}
        )
        conference = conference or DEMO_SLUG
    conference = conference or state.env.get("STATION_CONFERENCE") or None
    with configured_engine(state, read_only=True) as engine:
        with read_connection(engine, minutes=1) as conn:
            slug = conference_slug(conn, conference, SetupFailure)
        feed = DashboardFeed(engine, slug)
        app = DashboardApp(
            feed, BeatListener(engine), every_s=every_s, totals_every_s=totals_every_s
        )
        app.handle_hangup = True
        app.run(mouse=False)
        code = app.return_code or 0
    terminal.end_after_signal(app.exit_signals, code)
    sys.exit(code)
