"""The import contracts of pyproject.toml [tool.importlinter] hold, and they would catch a break.

The contracts are the architecture in checkable form: ``core`` imports no capability, and the
rooms of the SensorThings hub import one way (``api`` > ``write`` > ``read`` > ``filter`` >
``access``/``storage`` > ``model``) and stand below ``mqtt`` (but ``mqtt.changes``), ``lorawan``
and the ``register``. Running them here makes ``make test`` (and so CI) check them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the ``stadslab`` package found under ``src``, with the repository's contracts."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", str(ROOT / "pyproject.toml")],
                          cwd=src, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    done = lint_imports(SRC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken." in done.stdout, done.stdout


@pytest.mark.parametrize("module, line, broken", [
    # an upward import between rooms: a read that writes
    ("sensorthings/read/counting.py", "from ..write import rules", "the hub's rooms import one way"),
    # a circle between rooms: the model importing the access rules that stand on it
    ("sensorthings/model/urls.py", "from ..access import visibility", "the hub's rooms import one way"),
    # a room reaching up into mqtt beyond mqtt.changes
    ("sensorthings/write/bulk.py", "from ..mqtt import notify", "the rooms stand below mqtt, lorawan and register"),
    # the hub importing a capability built on it
    ("sensorthings/register.py", "from stadslab.web import sensors", "the hub imports none of what is built on it"),
    # core importing a capability
    ("core/config.py", "import stadslab.network", "core imports no capability"),
])
def test_the_contracts_fail_on_an_upward_import_or_a_circle(tmp_path, module, line, broken):
    copy = tmp_path / "src"
    shutil.copytree(SRC / "stadslab", copy / "stadslab", ignore=shutil.ignore_patterns("__pycache__", "static"))
    target = copy / "stadslab" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    done = lint_imports(copy)
    assert done.returncode != 0, done.stdout
    assert f"{broken}" in done.stdout.split("Broken contracts")[-1], done.stdout
