"""``station bench`` works from an installed station, not only from a clone.

The benchmark ships as ``station.bench``; the repository's ``benchmarks/``
folder is not part of the wheel, so nothing in ``station`` may import it. An
editable install puts the clone on ``sys.path``, which would hide such an
import, so the CLI check below runs with ``benchmarks`` made unimportable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "station"

IMPORTERS = ("import_module", "__import__")
RUN_WITHOUT_BENCHMARKS = """
import sys
sys.modules["benchmarks"] = None  # any import of the clone's folder now fails
from station.cli import main
sys.argv = ["station", "bench", "--help"]
main()
"""


def test_station_bench_help_outside_the_repository(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_BENCHMARKS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: station bench")
    assert "--million" in done.stdout
    assert "clone" not in done.stdout + done.stderr


def test_no_station_module_imports_benchmarks() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                    or (isinstance(node.func, ast.Name) and node.func.id in IMPORTERS)
                )
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]  # import_module("..."), __import__("...")
            else:
                continue
            relative = path.relative_to(PACKAGE.parent)
            offenders += [f"{relative}: {n}" for n in names if n.split(".")[0] == "benchmarks"]
    assert offenders == []
