"""docs/security.md: every STRIDE row names tests, and every named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_threat_names_existing_tests():
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if re.match(r"^\| [STRIDE]\d+ \|", line)]
    assert len(rows) >= 20
    letters = {row[2] for row in rows}
    assert letters == set("STRIDE")
    for row in rows:
        refs = re.findall(r"(test_\w+\.py)::(test_\w+)", row.split("|")[5])
        assert refs, f"threat without a test: {row}"
        for file, name in refs:
            tree = ast.parse(_test_file(file).read_text(encoding="utf-8"))
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{file}::{name} named in docs/security.md does not exist"


def _test_file(name: str) -> Path:
    """A test file of this folder, or else the one file of that name elsewhere under tests/."""
    here = Path(__file__).parent / name
    if here.exists():
        return here
    found = sorted((ROOT / "tests").rglob(name))
    assert len(found) == 1, f"{name} named in docs/security.md: found {found}"
    return found[0]
