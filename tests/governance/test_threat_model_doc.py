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
            tree = ast.parse((Path(__file__).parent / file).read_text(encoding="utf-8"))
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{file}::{name} named in docs/security.md does not exist"
