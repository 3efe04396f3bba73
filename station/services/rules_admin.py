"""Setting, showing and importing the event rules of a conference's products.

``station rules set | show | import`` call these. A product is a ticket type or an
add-on, named by its slug (``ticket:<slug>`` or ``addon:<slug>`` when both kinds
share one). The rule book parses and words every rule
(:mod:`station.rulebook.event_rules`); this module finds the products and writes
their columns, all in one transaction: an unknown product or a value that does
not parse is one line naming the product and the rule, and nothing is written.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from station.models import AddOn, Conference, TicketType
from station.rulebook.event_rules import (
    RULE_FIELDS,
    ProductRules,
    RuleField,
    RuleFieldError,
    RuleSyntaxError,
    rule_words,
    rules_from_table,
    with_fields,
)
from station.rulebook.facts import ProductKind
from station.services.conferences import conference_slug
from station.services.errors import InvalidInput
from station.text import display_safe

MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_PRODUCTS = 1000
_MODELS: dict[ProductKind, Any] = {"ticket": TicketType, "addon": AddOn}


@dataclass(frozen=True, slots=True)
class ProductRuleSet:
    """One product and its rules (as stored, or as they would be after a change)."""

    kind: ProductKind
    slug: str
    name: str
    rules: ProductRules

    @property
    def product(self) -> str:
        """How the commands name it: ``addon:lunch-day-1``."""
        return f"{self.kind}:{self.slug}"

    def words(self) -> dict[RuleField, str]:
        return rule_words(self.rules)


@dataclass(frozen=True, slots=True)
class RuleChange:
    before: ProductRuleSet
    after: ProductRuleSet

    @property
    def changed(self) -> bool:
        return self.before.rules != self.after.rules


@dataclass(frozen=True, slots=True)
class RulesChanged:
    """What ``set`` or ``import`` did (or, with ``dry_run``, would do)."""

    conference: str
    changes: tuple[RuleChange, ...]
    dry_run: bool

    @property
    def changed(self) -> int:
        return sum(1 for change in self.changes if change.changed)


@dataclass(frozen=True, slots=True)
class RulesShown:
    conference: str
    products: tuple[ProductRuleSet, ...]  # every product, ticket types first, by slug

    @property
    def with_rules(self) -> tuple[ProductRuleSet, ...]:
        return tuple(p for p in self.products if p.rules.any)


def show_rules(engine: Engine, conference: str | None = None) -> RulesShown:
    with engine.connect() as conn:
        slug = conference_slug(conn, conference, _refused)
        return RulesShown(slug, tuple(_products(conn, slug).values()))


def set_rules(
    engine: Engine,
    product: str,
    texts: Mapping[str, str],
    *,
    conference: str | None = None,
    dry_run: bool = False,
) -> RulesChanged:
    """Change the named rules of one product (text as typed; "none" clears a rule)."""
    if not texts:
        raise InvalidInput(
            "Say which rules to set: --daily-limit, --hours, --valid-dates, --reentry "
            "or --capacity."
        )
    with engine.begin() as conn:
        slug = conference_slug(conn, conference, _refused)
        found = _find(_products(conn, slug), product, slug)
        try:
            rules = with_fields(found.rules, texts)
        except RuleFieldError as exc:
            raise _refusal(found.product, exc.field, exc) from None
        change = RuleChange(found, _with(found, rules))
        if not dry_run:
            _write(conn, slug, (change,))
    return RulesChanged(slug, (change,), dry_run)


def import_rules(
    engine: Engine, document: str, *, conference: str | None = None, dry_run: bool = False
) -> RulesChanged:
    """Set the rules of every product the TOML document names, all or nothing.

    One table per product (``[lunch-day-1]``, ``["ticket:general"]``) holding that
    product's whole rules: a rule left out of the table is no rule. Products the
    document does not name keep theirs.
    """
    if len(document) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"The rules file is larger than {MAX_IMPORT_BYTES:,} characters.")
    try:
        parsed = tomllib.loads(document)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"The rules file is not valid TOML: {display_safe(str(exc))}.") from None
    except RecursionError:
        raise InvalidInput("The rules file is not valid: its values nest too deeply.") from None
    if not parsed:
        raise InvalidInput("The rules file names no product: write one [slug] table per product.")
    if len(parsed) > MAX_IMPORT_PRODUCTS:
        raise InvalidInput(f"The rules file names more than {MAX_IMPORT_PRODUCTS} products.")
    with engine.begin() as conn:
        slug = conference_slug(conn, conference, _refused)
        products = _products(conn, slug)
        changes: dict[str, RuleChange] = {}
        for key, table in parsed.items():
            found = _find(products, key, slug)
            if not isinstance(table, dict):
                raise InvalidInput(
                    f"{_shown(key)} must be a table of rules ([{display_safe(key, limit=40)}] "
                    "followed by lines like daily_limit = 1), not a single value."
                )
            if found.product in changes:
                raise InvalidInput(f"The rules file names {found.product} twice.")
            try:
                rules = rules_from_table(table)
            except RuleFieldError as exc:
                raise _refusal(found.product, exc.field, exc) from None
            changes[found.product] = RuleChange(found, _with(found, rules))
        done = tuple(changes.values())
        if not dry_run:
            _write(conn, slug, done)
    return RulesChanged(slug, done, dry_run)


def _with(found: ProductRuleSet, rules: ProductRules) -> ProductRuleSet:
    return ProductRuleSet(found.kind, found.slug, found.name, rules)


def _refusal(product: str, field: str, exc: RuleSyntaxError) -> InvalidInput:
    return InvalidInput(f"{product} {display_safe(field, limit=30)}: {exc}")


def _write(conn: Connection, conference: str, changes: tuple[RuleChange, ...]) -> None:
    conference_id = conn.scalar(select(Conference.id).where(Conference.slug == conference))
    for change in changes:
        if not change.changed:
            continue
        after = change.after
        columns = after.rules.columns()
        # What is written must read back as what was set (the stations read it so).
        stored = ProductRules.from_columns(
            columns["daily_limit"],  # type: ignore[arg-type]
            columns["open_hours"],  # type: ignore[arg-type]
            columns["valid_dates"],  # type: ignore[arg-type]
            columns["reentry"],  # type: ignore[arg-type]
            columns["capacity"],  # type: ignore[arg-type]
        )
        if stored != after.rules:  # pragma: no cover - the rule book's own invariant
            raise InvalidInput(f"{after.product}: the rules do not read back as set.")
        model = _MODELS[after.kind]
        conn.execute(
            update(model)
            .where(model.conference_id == conference_id, model.slug == after.slug)
            .values(**columns)
        )


def _products(conn: Connection, conference: str) -> dict[str, ProductRuleSet]:
    """Every product of the conference by ``kind:slug``, with its rules as stored."""
    found: dict[str, ProductRuleSet] = {}
    for kind, model in _MODELS.items():
        rows = conn.execute(
            select(
                model.slug,
                model.name,
                model.daily_limit,
                model.open_hours,
                model.valid_dates,
                model.reentry,
                model.capacity,
            )
            .join(Conference, Conference.id == model.conference_id)
            .where(Conference.slug == conference)
            .order_by(model.slug)
        ).all()
        for row in rows:
            try:
                rules = ProductRules.from_columns(
                    row.daily_limit, row.open_hours, row.valid_dates, row.reentry, row.capacity
                )
            except RuleSyntaxError as exc:  # written by hand in the database
                raise InvalidInput(
                    f"{kind}:{display_safe(row.slug, limit=60)} has stored rules that do not "
                    f"read: {exc} Set them again with `station rules set`."
                ) from None
            product = ProductRuleSet(kind, row.slug, row.name, rules)
            found[product.product] = product
    return found


def _find(products: Mapping[str, ProductRuleSet], name: str, conference: str) -> ProductRuleSet:
    """The product called ``name``: ``kind:slug``, or a slug only one kind has."""
    if "\x00" in name or not name.strip():
        raise InvalidInput(f"{_shown(name)} is not a product slug.")
    kind, colon, slug = name.strip().partition(":")
    if colon and kind in _MODELS:
        found = products.get(f"{kind}:{slug}")
        candidates = [found] if found is not None else []
    else:
        keys = (f"ticket:{name}", f"addon:{name}")
        candidates = [products[key] for key in keys if key in products]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise InvalidInput(
            f"Both a ticket type and an add-on are called {_shown(name)}: say "
            f"ticket:{display_safe(name, limit=60)} or addon:{display_safe(name, limit=60)}."
        )
    raise InvalidInput(
        f"There is no product {_shown(name)} in conference {_shown(conference)}; "
        "nothing was changed (see `station rules show --all`)."
    )


def _refused(reason: str) -> InvalidInput:
    return InvalidInput(f"{reason[0].upper()}{reason[1:]}.")


def _shown(value: str) -> str:
    return repr(display_safe(value, limit=60))


__all__ = [
    "RULE_FIELDS",
    "ProductRuleSet",
    "RuleChange",
    "RulesChanged",
    "RulesShown",
    "import_rules",
    "set_rules",
    "show_rules",
]
