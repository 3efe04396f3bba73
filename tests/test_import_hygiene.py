"""The layers stay apart: the domain never pulls in the UI, the UI never the ORM."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "station"


def test_services_models_and_scanner_import_without_textual() -> None:
    code = (
        "import sys, station.services, station.models, station.scanner, station.db;"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if 'textual' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_results_and_errors_import_without_sqlalchemy() -> None:
    code = (
        "import sys, station.services.results, station.services.errors, station.domain;"
        "assert 'sqlalchemy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ui_modules_never_import_sqlalchemy() -> None:
    offenders = []
    for path in (PACKAGE / "tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert offenders == []
