"""Lookup benchmark: 100,000 attendees with names from many scripts, on SQLite and PostgreSQL.

Not a test: it prints figures. Imports a generated CSV through ``station import`` (so the
search keys are written the way a real import writes them), then runs a set of realistic
lookups through ``CheckInService.search_attendees`` (the path the lookup screen takes: one
transaction, the conference, the search, the ticket names) and prints p50/p95 per kind of
query. PostgreSQL uses a schema of its own on STATION_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; SQLite a temporary file.

    python benchmarks/search_bench.py [--rows 100000] [--repeat 30] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from station.db import DatabaseSettings, make_engine, make_session_factory, upgrade
from station.importer import ImportOptions, import_parsed, read_file
from station.searchkey import fold
from station.services import CheckInService
from station.services.results import StationContext

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONFERENCE = "bench"

# Given names and family names per language (as in the demo), plus generated family names so
# that, as at a real conference, most family names are rare and a few are very common.
_POOLS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (("Jürgen", "Anke", "Lukas", "Sabine", "Matthias", "Lea"),
     ("Müller", "Schröder", "Weiß", "Becker", "Hoffmann", "Krüger"),
     ("berg", "mann", "hof", "stein", "ner", "bach", "feld", "Ha", "Wei", "Schu", "Kö", "Lin")),
    (("Øyvind", "Ingrid", "Åsa", "Björn", "Sigrid", "Mikael"),
     ("Håland", "Lindqvist", "Sæther", "Johansson", "Nyström", "Bjørnstad"),
     ("ström", "qvist", "sen", "gård", "lund", "Bjør", "Lind", "Sæ", "Hå", "Ny", "dahl")),
    (("José", "María", "Lucía", "Andrés", "Inés", "Iñaki"),
     ("García", "Fernández", "Núñez", "López", "Ibáñez", "Peña"),
     ("ández", "ínez", "ero", "ado", "Mar", "Fer", "Gar", "Ibá", "Pe", "Al", "ñez")),
    (("Αλέξανδρος", "Ελένη", "Γιώργος", "Κατερίνα", "Νίκος", "Δήμητρα"),
     ("Οικονόμου", "Γεωργίου", "Νικολάου", "Βασιλείου", "Αντωνίου", "Δημητρίου"),
     ("πουλος", "ίδης", "άκης", "Παπα", "Κων", "Σταυ", "ρου", "Γε", "Μα")),
    (("太郎", "花子", "健", "由美", "翔太", "さくら"),
     ("山田", "佐藤", "鈴木", "高橋", "田中", "渡辺"),
     ("山", "田", "川", "本", "木", "中", "村", "藤", "井", "野")),
    (("Ngozi", "Chidi", "Oluwaseun", "Adaeze", "Emeka", "Funmilayo"),
     ("Okafor", "Adeyemi", "Nwosu", "Okonkwo", "Balogun", "Eze"),
     ("O", "ko", "la", "wo", "nwu", "ade", "yemi", "chu", "ba", "lo", "gun")),
    (("Łukasz", "Małgorzata", "Wojciech", "Zofia", "Grzegorz", "Agnieszka"),
     ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Wałęsa"),
     ("ski", "czyk", "wicz", "Ko", "Wa", "Ma", "Krz", "ło", "ęsa", "ński")),
    (("Zoë", "Chloé", "Jérôme", "Hélène", "François", "Maëlle"),
     ("Lefèvre", "Bérenger", "Dubois", "Mercier", "Rousseau", "Faure"),
     ("Le", "Ber", "Du", "Mer", "ier", "eau", "ève", "ard", "ot", "Fa")),
    (("Дмитрий", "Сергей", "Алексей", "Иван", "Анна", "Мария"),
     ("Соколов", "Кузнецов", "Попов", "Лебедев", "Иванов", "Смирнов"),
     ("ов", "ев", "ин", "Со", "Ку", "Ле", "Пет", "Сми", "ко", "ва")),
    (("Emily", "James", "Olivia", "Michael", "Grace", "Daniel"),
     ("Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies"),
     ("son", "ton", "ley", "field", "wood", "Ash", "Brad", "Har", "Mor", "Whit", "ing")),
    (("Minh", "Thảo", "Quang", "Hương", "Đức", "Lan"),
     ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ"),
     ("Ng", "uyễn", "Trầ", "n", "Lê", "Đỗ", "Vũ", "Bùi")),
    (("Siobhán", "Seán", "Aoife", "Pádraig", "Niamh", "Caoimhe"),
     ("O’Brien", "Kelly", "Murphy", "Byrne", "Ó Súilleabháin", "McCarthy"),
     ("Mc", "O'", "Fitz", "gerald", "carthy", "sullivan", "nell", "Ken")),
)  # fmt: skip

PLANTED = (
    ("Øyvind", "Håland"),
    ("Zoë", "Lefèvre"),
    ("José", "Núñez"),
    ("Αλέξανδρος", "Οικονόμου"),
    ("Ingrid", "Lindqvist"),
)


def generated_people(rows: int, rng: random.Random) -> list[tuple[str, str]]:
    people = list(PLANTED)
    while len(people) < rows:
        firsts, lasts, syllables = rng.choice(_POOLS)
        first = rng.choice(firsts)
        if rng.random() < 0.4:
            last = rng.choice(lasts)
        else:
            last = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))
            last = last[:1].upper() + last[1:]
        people.append((first, last))
    return people


def write_csv(path: Path, people: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["access_code", "first_name", "last_name", "email", "order_reference",
             "order_status", "ticket_type", "addons"]
        )  # fmt: skip
        for n, (first, last) in enumerate(people):
            local = "".join(ch for ch in fold(f"{first}.{last}") if ch.isascii() and ch != " ")
            writer.writerow(
                [f"S{n:07d}", first, last, f"{local or 'person'}{n}@example.org",
                 f"ORD-{n:07d}", "paid", "Conference Pass", "Lunch Day 1:1"]
            )  # fmt: skip


def queries(people: list[tuple[str, str]], rng: random.Random) -> dict[str, list[str]]:
    """What volunteers type, by kind; a few taken from the generated names."""
    sample = rng.sample(people[len(PLANTED) :], 4)
    typos = []
    for _first, last in sample:
        if len(last) >= 5 and last.isascii():
            i = rng.randrange(1, len(last) - 1)
            typos.append(last[:i] + ("x" if last[i] != "x" else "y") + last[i + 1 :])
    return {
        "exact": ["Øyvind Håland", "Zoë Lefèvre", f"{sample[0][0]} {sample[0][1]}",
                  "S0012345", "ORD-0054321", "zoe.lefevre1@example.org", "Smith"],
        "prefix": ["zoe lef", "lindq", "Okaf", "øyv hå", "Wój", "Ada"],
        "folded": ["øyvind", "ZOË", "NÚÑEZ", "αλέξανδρος", "ΟΙΚΟΝΟΜΟΥ", "山田", "muller",
                   "walesa", "иванов"],
        "typo": ["Lindquist", "Lefebvre", "Okafur", "Johanson", "Kowalcyk", *typos],
        "nothing": ["Qwzxv", "zzyzx kpq"],
    }  # fmt: skip


def measure(engine: Engine, kinds: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    service = CheckInService(make_session_factory(engine))
    ctx = StationContext(conference=CONFERENCE, station="bench", staff_id=None)
    for kind in kinds.values():  # warm the caches and the connection pool
        for query in kind:
            service.search_attendees(ctx, query)
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(repeat):
        for kind, texts in kinds.items():
            for query in texts:
                started = time.perf_counter()
                service.search_attendees(ctx, query)
                timings[kind].append((time.perf_counter() - started) * 1000)
    return timings


def hits(engine: Engine, kinds: dict[str, list[str]]) -> list[str]:
    service = CheckInService(make_session_factory(engine))
    ctx = StationContext(conference=CONFERENCE, station="bench", staff_id=None)
    lines = []
    for kind, texts in kinds.items():
        for query in texts:
            found = service.search_attendees(ctx, query)
            first = found[0].name if found else "-"
            lines.append(f"  {kind:>7} {query!r:>22} → {len(found):2} found, first: {first}")
    return lines


def report(label: str, timings: dict[str, list[float]]) -> None:
    every = sorted(t for ts in timings.values() for t in ts)
    for kind, ts in [*timings.items(), ("all", every)]:
        ts = sorted(ts)
        p50 = statistics.median(ts)
        p95 = ts[min(len(ts) - 1, int(len(ts) * 0.95))]
        print(f"{label:>10} {kind:>8}: p50 {p50:5.1f} ms  p95 {p95:5.1f} ms  ({len(ts)} lookups)")


def run(
    label: str, engine: Engine, csv_path: Path, kinds: dict[str, list[str]], repeat: int
) -> None:
    started = time.perf_counter()
    import_parsed(engine, read_file(csv_path), ImportOptions(CONFERENCE, create=True, name="Bench"))
    print(f"{label}: imported in {time.perf_counter() - started:.1f} s (search keys included)")
    with engine.begin() as conn:  # what autovacuum does on PostgreSQL within a minute
        conn.exec_driver_sql("ANALYZE")
    if os.environ.get("SEARCH_BENCH_SHOW_HITS"):
        print("\n".join(hits(engine, kinds)))
    report(label, measure(engine, kinds, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    rng = random.Random(16)
    people = generated_people(args.rows, rng)
    kinds = queries(people, rng)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.rows:,} attendees, load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "attendees.csv"
        write_csv(csv_path, people)
        if args.only in (None, "sqlite"):
            engine = make_engine(DatabaseSettings(url=f"sqlite:///{tmp}/bench.sqlite3"))
            upgrade(engine)
            run("SQLite", engine, csv_path, kinds, args.repeat)
            engine.dispose()
        if args.only in (None, "postgres"):
            url = os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL)
            schema = f"station_search_{uuid.uuid4().hex[:8]}"
            admin = make_engine(DatabaseSettings(url=url))
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            try:
                engine = make_engine(DatabaseSettings(url=url, schema=schema))
                upgrade(engine)
                with engine.connect() as conn:
                    version = conn.exec_driver_sql("SHOW server_version").scalar_one()
                run(f"PG {str(version).split()[0]}", engine, csv_path, kinds, args.repeat)
                engine.dispose()
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                admin.dispose()


if __name__ == "__main__":
    main()
