"""The rule book: every scan rule, in one place, as pure functions of plain facts.

A store (SQLite through the ORM, PostgreSQL through its guarded functions, and
the offline snapshot that comes next) gathers the facts a scan needs; the rule
book decides and words; the store records the decision. Nothing here queries,
writes or imports SQLAlchemy or Textual, so every path asks the same code and a
test can ask it alone.
"""

from station.rulebook.facts import (
    Holder,
    Line,
    Prior,
    ScanFacts,
    ScanRequest,
    Target,
)
from station.rulebook.rules import (
    Accept,
    Decision,
    decide,
    order_gate,
)

__all__ = [
    "Accept",
    "Decision",
    "Holder",
    "Line",
    "Prior",
    "ScanFacts",
    "ScanRequest",
    "Target",
    "decide",
    "order_gate",
]
