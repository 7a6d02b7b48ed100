"""A stable MQTT client id per worker slot.

A persistent MQTT session is found again by its client id, so a worker that
uvicorn's supervisor restarts after a crash must come back with the id of the
one it replaces, and two live workers must never share one (the broker would
throw the older off). uvicorn gives workers no index, so each worker claims the
lowest free slot by holding an exclusive ``flock`` on ``<dir>/<name>-<slot>.lock``.
The kernel drops the lock when the process dies, however it dies, so the
replacement finds that slot free again.
"""

from __future__ import annotations

import fcntl
import hashlib
import socket
import tempfile
from pathlib import Path
from typing import IO

MAX_SLOTS = 1024


class Slot:
    def __init__(self, number: int, handle: IO[bytes], path: Path | None = None):
        self.number = number
        self._handle = handle
        self.path = path

    def forget(self) -> None:
        """The slot's session is gone: remove its file, then let go of it."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()  # closing the descriptor drops the flock


def claim_slot(scope: str, directory: str | None = None) -> Slot:
    """The lowest slot not held by a live process of this installation (``scope``)."""
    base = Path(directory or Path(tempfile.gettempdir()) / "stadslab-mqtt-slots")
    base.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(scope.encode()).hexdigest()[:16]
    for number in range(MAX_SLOTS):
        handle = open(base / f"{name}-{number}.lock", "ab")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return Slot(number, handle)
    raise RuntimeError(f"more than {MAX_SLOTS} workers hold MQTT slots in {base}")


def orphaned_slots(scope: str, directory: str | None, keep: int) -> list[Slot]:
    """Slots numbered ``keep`` or higher that were used before and no live process holds now:
    after the number of workers went down, their persistent sessions wait at the broker for a
    worker that will not come back. Returned claimed (flock held); ``Slot.forget`` removes one."""
    base = Path(directory or Path(tempfile.gettempdir()) / "stadslab-mqtt-slots")
    name = hashlib.sha256(scope.encode()).hexdigest()[:16]
    found = []
    for path in sorted(base.glob(f"{name}-*.lock")):
        try:
            number = int(path.stem.rsplit("-", 1)[1])
        except ValueError:
            continue
        if number < keep:
            continue
        handle = open(path, "ab")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()  # a live worker holds it (the count went up again): not an orphan
            continue
        found.append(Slot(number, handle, path))
    return found


def client_id(group: str, slot: int, base: str | None = None) -> str:
    host = (base or socket.gethostname() or "host").replace("/", "-").replace("+", "-").replace("#", "-")
    return f"stadslab-{host}-{group}-{slot}"[:200]


__all__ = ["Slot", "claim_slot", "client_id", "orphaned_slots"]
