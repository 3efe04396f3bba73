"""Bring attendees in from a CSV file or django-program's preload JSON.

``read_file`` parses (no database), ``import_parsed`` plans and writes in one
transaction. Importing the same file twice changes nothing; an updated file
updates in place, keyed by access code and order reference, and never
deletes a check-in or a redemption.
"""

from station.importer.plan import COUNT_NAMES, Counts
from station.importer.records import ImportFileError, ParsedFile, Problem
from station.importer.run import ImportOptions, ImportReport, Progress, import_parsed, read_file

__all__ = [
    "COUNT_NAMES",
    "Counts",
    "ImportFileError",
    "ImportOptions",
    "ImportReport",
    "ParsedFile",
    "Problem",
    "Progress",
    "import_parsed",
    "read_file",
]
