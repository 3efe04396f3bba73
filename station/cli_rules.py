"""``station rules``: set, show and import the event rules of a conference's products.

Added to the main group in ``station/cli.py``. Thin, like the other commands: the
work is :mod:`station.services.rules_admin`, the words are the rule book's. A bad
value or an unknown product is one ``station: ...`` line (exit code 2) and changes
nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from station.cli_base import SetupFailure, StationGroup, configured_engine

if TYPE_CHECKING:
    from station.cli_base import CliState
    from station.rulebook.event_rules import RuleField
    from station.services.rules_admin import ProductRuleSet, RulesChanged

# (rule, heading, narrowest width: a time window is never cut)
_COLUMNS: tuple[tuple[RuleField, str, int], ...] = (
    ("daily_limit", "limit", 0),
    ("hours", "hours", 11),
    ("valid_dates", "valid on", 0),
    ("capacity", "capacity", 0),
    ("reentry", "re-entry", 0),
)


# Short enough for an 80-column terminal; `rules set --help` and the README give the long words.
_REENTRY_SHORT = {"once": "once", "daily": "once a day", "after_exit": "after exit"}


def _cell(field: RuleField, words: str, product: ProductRuleSet) -> str:
    """One rule in a table cell: one window or date per line, so columns stay narrow."""
    if not words:
        return "-"
    if field in ("hours", "valid_dates"):
        return words.replace(", ", "\n")
    if field == "reentry":
        return _REENTRY_SHORT.get(product.rules.reentry, words)
    if field == "capacity":
        return str(product.rules.capacity)
    return words


@click.group("rules", cls=StationGroup)
def rules_cmd() -> None:
    """Event rules of ticket types and add-ons: per-day caps, opening hours, valid
    dates, re-entry at a door, room capacity."""


@rules_cmd.command("set")
@click.argument("product", metavar="PRODUCT")
@click.option("--conference", metavar="SLUG", help="Needed when the database has several.")
@click.option("--daily-limit", metavar="N|none", help="Units one attendee may use a day.")
@click.option("--hours", metavar='"HH:MM-HH:MM, ..."|none', help="Opening windows, every day.")
@click.option("--valid-dates", metavar="YYYY-MM-DD,...|none", help="The only days it is valid.")
@click.option(
    "--reentry",
    type=click.Choice(["unlimited", "once", "daily", "after_exit"]),
    help="At a door for the product: how often one person is admitted.",
)
@click.option("--capacity", metavar="N|none", help="At a door: how many may be inside at once.")
@click.option("--dry-run", is_flag=True, help="Show the rules it would set; write nothing.")
@click.pass_obj
def rules_set(
    state: CliState,
    product: str,
    conference: str | None,
    daily_limit: str | None,
    hours: str | None,
    valid_dates: str | None,
    reentry: str | None,
    capacity: str | None,
    dry_run: bool,
) -> None:
    """Set some rules of one PRODUCT (a slug, or ticket:<slug> / addon:<slug>).

    \b
    station rules set meal-voucher --daily-limit 1 --hours "11:30-14:30"
    station rules set tutorial-sqlalchemy --capacity 40 --reentry after_exit
    station rules set ticket:student --valid-dates 2026-06-15,2026-06-16
    station rules set meal-voucher --hours none      (clears one rule)

    Rules not named keep their value.
    """
    from station.services.rules_admin import set_rules

    given = {
        "daily_limit": daily_limit,
        "hours": hours,
        "valid_dates": valid_dates,
        "reentry": reentry,
        "capacity": capacity,
    }
    texts = {name: value for name, value in given.items() if value is not None}
    with configured_engine(state, read_only=True) as engine:
        done = set_rules(engine, product, texts, conference=conference, dry_run=dry_run)
    _echo_changes(done)


@rules_cmd.command("show")
@click.option("--conference", metavar="SLUG", help="Needed when the database has several.")
@click.option("--all", "show_all", is_flag=True, help="List products without rules too.")
@click.pass_obj
def rules_show(state: CliState, conference: str | None, show_all: bool) -> None:
    """Show every product with rules, in the words a volunteer reads."""
    from station.services.rules_admin import show_rules

    with configured_engine(state, read_only=True) as engine:
        shown = show_rules(engine, conference)
    listed = shown.products if show_all else shown.with_rules
    if not listed:
        click.echo(
            f"No product of {shown.conference} has rules; set them with `station rules set` "
            "or `station rules import`."
        )
        return
    _print_table(f"Event rules of {shown.conference}", listed)


@rules_cmd.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--conference", metavar="SLUG", help="Needed when the database has several.")
@click.option("--dry-run", is_flag=True, help="Check the file and show the changes; write nothing.")
@click.pass_obj
def rules_import(state: CliState, file: Path, conference: str | None, dry_run: bool) -> None:
    """Set the rules of the products a TOML FILE names (see config/rules.example.toml).

    One table per product slug; a table is that product's whole rules (a rule left
    out is no rule). Products the file does not name keep theirs. All or nothing.
    """
    from station.services.rules_admin import MAX_IMPORT_BYTES, import_rules

    label = click.format_filename(file.name)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise SetupFailure(f"cannot read {click.format_filename(file)}: {exc.strerror}") from None
    try:
        document = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SetupFailure(f"{label} is not UTF-8 text; nothing was changed.") from None
    with configured_engine(state, read_only=True) as engine:
        done = import_rules(engine, document, conference=conference, dry_run=dry_run)
    _echo_changes(done, label=label)


def _echo_changes(done: RulesChanged, *, label: str | None = None) -> None:
    source = f" from {label}" if label else ""
    if done.dry_run:
        head = f"Dry run{source} on {done.conference}: nothing was written. Would change"
    else:
        head = f"Rules{source} set on {done.conference}: changed"
    unchanged = len(done.changes) - done.changed
    tail = f", {unchanged} unchanged" if unchanged else ""
    click.echo(f"{head} {done.changed} product{'s' if done.changed != 1 else ''}{tail}.")
    title = "Rules after" if done.dry_run else "Rules now"
    _print_table(title, [change.after for change in done.changes])


def _print_table(title: str, products: list[ProductRuleSet] | tuple[ProductRuleSet, ...]) -> None:
    """Products and their rules as a table; names are text, never markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from station.text import display_safe

    table = Table(title=title, title_justify="left", box=None, header_style="bold underline")
    # What `rules set` takes is never cut; the product's name goes under it.
    table.add_column("product", no_wrap=True)
    for _field, heading, narrowest in _COLUMNS:
        table.add_column(heading, min_width=narrowest)
    for product in products:
        words = product.words()
        named = Text(display_safe(product.product, limit=60))
        named.append("\n" + display_safe(product.name, limit=22), style="dim")
        table.add_row(named, *(Text(_cell(field, words[field], product)) for field, *_ in _COLUMNS))
    Console().print(table)
