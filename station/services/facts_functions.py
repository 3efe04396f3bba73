"""The scan's facts read, wrapped in PL/pgSQL functions so the server keeps its plan.

Behind PgBouncer in transaction pooling mode a station prepares no statement, so
PostgreSQL plans the facts read (``facts_sql``) on every scan. PL/pgSQL caches the
plans of its static queries per server backend, and PgBouncer reuses server
backends, so the same read inside a function keeps its plan without any
protocol-level prepared statement. (A ``LANGUAGE sql`` function does not: on
PostgreSQL 15 its plan is made again on every call.)

The functions are generated from ``facts_sql`` (one source): migration 0018 builds
them, and ``FINGERPRINT`` there pins what it built, so a test fails when
``facts_sql`` changes without a migration that builds them again. They are
SECURITY INVOKER: the caller's rights and row-level security apply, as they do to
the plain statement. They read, and decide nothing: the rule book decides.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, get_args

from station.rulebook.facts import Action
from station.services.store_pg import FACTS_PARAMETERS as PARAMETERS
from station.services.store_pg import facts_function as function_name
from station.services.store_pg import facts_sql

_PARAMETER = re.compile(r"%\((\w+)\)s")
VARIANTS: tuple[tuple[str, str | None, bool], ...] = tuple(
    itertools.product(get_args(Action), (None, "ticket", "addon"), (False, True))
)


def function_body(action: str, target: str | None, by_id: bool) -> str:
    """The PL/pgSQL source: ``facts_sql`` with its parameters as the function's arguments.

    The result columns are also PL/pgSQL variables (RETURNS TABLE); a name in the
    query means the column, as it does in the plain statement.
    """
    query = _PARAMETER.sub(lambda m: f"p_{m.group(1)}", facts_sql(action, target, by_id))
    return f"\n#variable_conflict use_column\nBEGIN\n    RETURN QUERY {query};\nEND\n"


def fingerprint() -> str:
    """What the functions are built from; a migration that builds them pins it."""
    digest = hashlib.sha256()
    for variant in VARIANTS:
        digest.update(function_name(*variant).encode())
        digest.update(function_body(*variant).encode())
    return digest.hexdigest()[:16]


def drop_statements() -> Iterator[str]:
    arguments = ", ".join(server_type for _name, server_type in PARAMETERS)
    for variant in VARIANTS:
        yield f"DROP FUNCTION IF EXISTS {function_name(*variant)}({arguments})"


def build(execute: Callable[[str], Any], scalar_rows: Callable[[str], list[Any]]) -> None:
    """Drop and create every facts function in the current schema (a migration's step).

    The result columns and their types are the plain statement's own, read from a
    temporary view of it (parameters as typed NULLs), so they cannot drift apart.
    """
    schema = scalar_rows("SELECT quote_ident(current_schema())")[0][0]
    arguments = ", ".join(f"p_{name} {server_type}" for name, server_type in PARAMETERS)
    types = dict(PARAMETERS)
    for statement in drop_statements():
        execute(statement)
    for variant in VARIANTS:
        typed_nulls = _PARAMETER.sub(lambda m: f"NULL::{types[m.group(1)]}", facts_sql(*variant))
        execute(f"CREATE TEMPORARY VIEW station_facts_columns AS {typed_nulls}")
        columns = scalar_rows(
            "SELECT quote_ident(attname), format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'station_facts_columns'::regclass AND attnum > 0 ORDER BY attnum"
        )
        execute("DROP VIEW station_facts_columns")
        returns = ", ".join(f"{column} {server_type}" for column, server_type in columns)
        execute(
            f"CREATE FUNCTION {function_name(*variant)}({arguments}) RETURNS TABLE ({returns}) "
            f"LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = {schema}, pg_temp "
            f"AS $${function_body(*variant)}$$"
        )
