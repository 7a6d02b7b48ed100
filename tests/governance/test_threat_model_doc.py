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
            here = Path(__file__).parent / file
            files = [here] if here.exists() else sorted((ROOT / "tests").rglob(file))
            assert files, f"{file} named in docs/security.md does not exist"
            names = {n.name for f in files for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
                     if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{file}::{name} named in docs/security.md does not exist"
