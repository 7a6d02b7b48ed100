"""Log masking cost on hostile input (issue #13 item 5): linear, so a long query string cannot stall the loop.

Every log line is masked when it is created, on the thread that logs it (for access logs: the
event loop). Measures ``core.security.mask`` on adversarial strings of 60 KB and 1 MB and, with
``--reference``, the former e-mail pattern on the 60 KB ones (quadratic: seconds each).
Run: .venv/bin/python benchmarks/log_masking.py [--reference]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine  # noqa: E402
from stadslab.core.security import mask  # noqa: E402

FORMER_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def inputs(size: int) -> dict[str, str]:
    return {"one run of address characters": "a" * size,
            "a domain of one-letter labels": "x@" + "a." * (size // 2),
            "runs separated by at signs": "a@" * (size // 2),
            "keywords without a value": "password " * (size // 9)}


def seconds(fn, text: str) -> float:
    started = time.perf_counter()
    fn(text)
    return time.perf_counter() - started


def main() -> None:
    print(machine())
    for size in (60_000, 1_000_000):
        for name, text in inputs(size).items():
            print(f"mask   {size:>9,} B  {name:<32} {seconds(mask, text) * 1000:8.1f} ms")
    if "--reference" in sys.argv:
        for name, text in inputs(60_000).items():
            took = seconds(lambda t: FORMER_EMAIL.sub("<email>", t), text)
            print(f"former {60_000:>9,} B  {name:<32} {took * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
