"""Harvesting a peer: its registry lists (incremental) and its DCAT catalogue.

Rules that make this safe against peers we do not control:

* Incremental: each registry list is asked for ``modified_since`` = the high-water
  mark of the last *complete* harvest of that list minus a safety margin. The mark is
  the peer's own ``updated_at``, never our clock, so a peer whose clock runs ahead or
  behind ours loses nothing; the margin covers a peer whose clock stepped back or
  whose transactions committed out of timestamp order. Items re-fetched inside the
  margin are recognised by (peer, type, remote id, updated_at) and left alone.
* Nothing is deleted on failure: a failed page stops that list (its high-water mark
  stays where it was, so the next harvest asks again) and keeps every item already
  stored; the peer's health records the error.
* A bad record (not an object, no id, no parseable updated_at) is reported and skipped;
  the rest of the page goes on.
* Deletes travel as tombstones (``/api/v1/federation/tombstones``, read incrementally like
  the lists): the harvested copy of a deleted item is removed. A dataset that a complete
  read of the peer's catalogue no longer lists is removed too. Ids are never reused on a
  node, so a tombstone never hides a later item (a copy newer than the tombstone is kept all
  the same, for peers of older versions).
* A catalogue entry that only describes a registry record harvested from the same peer
  (older nodes published every project as a dcat:Dataset) is not stored: an item is
  counted once.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stadslab.core.config import Settings
from stadslab.core.database import utcnow
from stadslab.search.text import stems_for

from .client import FetchPolicy, PeerClient, PeerError
from .models import FederatedItem, FederationPeer, PeerStatus

log = logging.getLogger("stadslab.federation")

#: Registry list path on a peer -> item type stored here.
REGISTRY_LISTS: dict[str, str] = {
    "projects": "project", "solutions": "solution", "living-labs": "living_lab",
    "adoptions": "adoption", "organisations": "organisation", "coalitions": "coalition",
}
PAGE_SIZE = 100
#: A peer claiming more pages than this is answering nonsense (or is far too big to harvest this way).
MAX_PAGES = 1000
MAX_CATALOG_PAGES = 200
MAX_SKIPPED_REPORTED = 50
MAX_CHANGED_REPORTED = 500

#: Prefix of a list's high-water key for its tombstones (``high_water["deleted:project"]``).
TOMBSTONE_MARK = "deleted:"

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
HYDRA = "http://www.w3.org/ns/hydra/core#"


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


@dataclass
class HarvestReport:
    peer: str
    ok: bool = True
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skipped_backoff: bool = False
    #: "type:remote id" of every item created or updated (the first MAX_CHANGED_REPORTED).
    changed: list[str] = field(default_factory=list)
    deleted: int = 0
    #: "type:remote id" of every harvested copy removed (tombstone, or gone from the catalogue).
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "ok": self.ok, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "deleted": self.deleted, "errors": self.errors,
                "skipped": self.skipped, "skipped_backoff": self.skipped_backoff, "changed": self.changed,
                "removed": self.removed}


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def normalise_record(item_type: str, record: Any) -> dict[str, Any]:
    """The columns of one harvested registry record; ValueError names what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("record is not a JSON object")
    rid = record.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (int, str)) or rid == "":
        raise ValueError("record has no valid id")
    updated = parse_time(record.get("updated_at"))
    if updated is None:
        raise ValueError(f"record {rid!r} has no valid updated_at")
    city = record.get("city")
    city_code = city.get("code") if isinstance(city, dict) else (city if isinstance(city, str) else None)
    themes = record.get("themes") if isinstance(record.get("themes"), list) else []
    theme_codes = [t.get("code") if isinstance(t, dict) else t for t in themes]
    title = _text(record.get("title"), 500) or _text(record.get("name"), 500)
    if item_type == "adoption":
        sol = record.get("solution") if isinstance(record.get("solution"), dict) else {}
        city_name = city.get("name") if isinstance(city, dict) else city_code
        title = f"{_text(sol.get('name'), 300)} in {city_name or '?'}"
    summary = (_text(record.get("summary"), 20000) or _text(record.get("description"), 20000)
               or _text(record.get("outcome"), 20000))
    status = record.get("status") if isinstance(record.get("status"), str) else record.get("maturity")
    return {"remote_id": str(rid)[:500], "title": title, "summary": summary,
            "city_code": city_code[:10] if isinstance(city_code, str) else None,
            "themes": [t for t in theme_codes if isinstance(t, str)][:50],
            "status": status[:40] if isinstance(status, str) else None,
            "remote_updated_at": updated, "payload": record}


class Harvester:
    def __init__(self, session: Session, settings: Settings, *, sleep=time.sleep):
        self.session = session
        self.settings = settings
        self.sleep = sleep
        self.policy = FetchPolicy(timeout=settings.federation_timeout_seconds,
                                  max_bytes=settings.federation_max_page_bytes,
                                  retries=settings.federation_retries,
                                  backoff=settings.federation_backoff_seconds,
                                  backoff_max=settings.federation_backoff_max_seconds)

    # --- one peer -------------------------------------------------------------------------------
    def harvest(self, peer: FederationPeer, token: str | None, *, force: bool = True) -> HarvestReport:
        report = HarvestReport(peer=peer.name)
        status = self.session.get(PeerStatus, peer.id) or PeerStatus(
            peer_id=peer.id, consecutive_failures=0, skipped=[], items=0, high_water={})
        self.session.add(status)
        now = utcnow()
        if not force and status.next_attempt_at and as_utc(status.next_attempt_at) > now:
            report.skipped_backoff = True
            return report
        status.last_attempt_at = now
        self.session.commit()
        high_water = dict(status.high_water or {})
        latencies: list[float] = []
        with PeerClient(peer.base_url, self.policy, token, sleep=self.sleep) as client:
            for path, item_type in REGISTRY_LISTS.items():
                try:
                    mark = self._harvest_list(client, peer, path, item_type, high_water.get(item_type), report,
                                              now)
                    if mark:
                        high_water[item_type] = mark
                    key = TOMBSTONE_MARK + item_type
                    mark = self._harvest_tombstones(client, peer, item_type, high_water.get(key), report, now)
                    if mark:
                        high_water[key] = mark
                except PeerError as exc:
                    report.errors.append(str(exc))
                    if exc.retryable:  # the peer is unreachable: the other lists will fail the same way
                        break
                if client.last_latency_ms is not None:
                    latencies.append(client.last_latency_ms)
            if not report.errors or not any("Connect" in e or "timed out" in e for e in report.errors):
                try:
                    if self._harvest_catalog(client, peer, report):
                        self._sweep_catalog(peer, now, report)
                except PeerError as exc:
                    report.errors.append(str(exc))
        report.ok = not report.errors
        self._record_status(peer, status, report, high_water, latencies)
        return report

    def _record_status(self, peer, status: PeerStatus, report: HarvestReport, high_water, latencies) -> None:
        now = utcnow()
        status.high_water = high_water
        status.skipped = report.skipped[:MAX_SKIPPED_REPORTED]
        status.latency_ms = round(sum(latencies) / len(latencies), 1) if latencies else None
        status.items = self.session.scalar(select(func.count()).select_from(FederatedItem).where(
            FederatedItem.peer_id == peer.id)) or 0
        if report.ok:
            status.last_success_at = now
            status.consecutive_failures = 0
            status.last_error = None
            status.next_attempt_at = None
        else:
            status.consecutive_failures = (status.consecutive_failures or 0) + 1
            status.last_error = "; ".join(report.errors)[:4000]
            base = max(self.settings.federation_interval_seconds, 30)
            wait = min(base * 2 ** (status.consecutive_failures - 1),
                       self.settings.federation_peer_backoff_max_seconds)
            status.next_attempt_at = now + timedelta(seconds=wait)
        self.session.commit()

    # --- registry lists -------------------------------------------------------------------------
    def _harvest_list(self, client: PeerClient, peer, path: str, item_type: str, mark: str | None,
                      report: HarvestReport, started: datetime) -> str | None:
        """Fetches every page of one list; returns the new high-water mark (None: unchanged).

        The mark never passes our own clock at the start of the harvest: a peer whose
        clock runs ahead stamps items "in the future", and when its clock is corrected
        its next changes would sit below such a mark and be missed for good. Capped, they
        are re-fetched (and recognised as unchanged) until real time catches up.
        Pages are read by keyset, not by plain offset: each request asks for
        ``modified_since`` = the newest ``updated_at`` read so far and skips only the
        records already read with exactly that time. A record the peer changes while we
        page moves to the end of the list and is read there; with plain offsets, every
        record behind it would shift one place forward and one of them would be missed.
        """
        params: dict[str, Any] = {"sort": "updated_at", "limit": PAGE_SIZE}
        since = parse_time(mark)
        cursor = since - timedelta(seconds=self.settings.federation_skew_margin_seconds) if since else None
        newest = since
        skip = 0  # records already read at ``cursor`` (and bad records after it)
        position = 0
        for _ in range(MAX_PAGES):
            query = {**params, "offset": skip}
            if cursor is not None:
                query["modified_since"] = cursor.isoformat()
            page = client.get_json(f"/api/v1/{path}", query)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list) \
                    or not isinstance(page.get("total"), int) or isinstance(page.get("total"), bool):
                raise PeerError(f"/api/v1/{path}: not a registry list (expected an object with items and total)")
            items = page["items"]
            for record in items:
                position += 1
                try:
                    row = normalise_record(item_type, record)
                except ValueError as exc:
                    report.skipped.append(f"{path}[{position - 1}]: {exc}")
                    skip += 1
                    continue
                self._store(peer, item_type, row, client.url(f"/api/v1/{path}/{row['remote_id']}"), report)
                stamp = row["remote_updated_at"]
                if cursor is None or stamp > cursor:
                    cursor, skip = stamp, 1
                else:
                    skip += 1
                if newest is None or stamp > newest:
                    newest = stamp
            self.session.commit()
            if not items or len(items) < PAGE_SIZE or len(items) >= page["total"]:
                return min(newest, started).isoformat() if newest else None
        raise PeerError(f"/api/v1/{path}: more than {MAX_PAGES} pages")

    def _store(self, peer, item_type: str, row: dict[str, Any], source_url: str, report: HarvestReport) -> None:
        now = utcnow()
        existing = self.session.scalar(select(FederatedItem).where(
            FederatedItem.peer_id == peer.id, FederatedItem.item_type == item_type,
            FederatedItem.remote_id == row["remote_id"]))
        if existing is not None and as_utc(existing.remote_updated_at) == row["remote_updated_at"]:
            existing.last_seen_at = now
            report.unchanged += 1
            return
        if len(report.changed) < MAX_CHANGED_REPORTED:
            report.changed.append(f"{item_type}:{row['remote_id']}")
        stems = " " + stems_for(title=row["title"], body=row["summary"]) + " "
        if existing is None:
            self.session.add(FederatedItem(peer_id=peer.id, item_type=item_type, source_url=source_url[:1000],
                                           stems=stems, first_seen_at=now, last_seen_at=now, **row))
            report.created += 1
        else:
            for key, value in row.items():
                setattr(existing, key, value)
            existing.stems, existing.source_url, existing.last_seen_at = stems, source_url[:1000], now
            report.updated += 1

    # --- deletes ---------------------------------------------------------------------------------
    def _harvest_tombstones(self, client: PeerClient, peer, item_type: str, mark: str | None,
                            report: HarvestReport, started: datetime) -> str | None:
        """Reads the peer's tombstones of one type since the mark (minus the margin) and removes
        the copies they name; returns the new mark. Tombstones are append-only, so offset paging
        can only read one twice, never miss one; a late commit is caught by the margin."""
        since = parse_time(mark)
        query: dict[str, Any] = {"type": item_type, "limit": PAGE_SIZE}
        if since is not None:
            query["since"] = (since - timedelta(seconds=self.settings.federation_skew_margin_seconds)).isoformat()
        newest, offset = since, 0
        for _ in range(MAX_PAGES):
            try:
                page = client.get_json("/api/v1/federation/tombstones", {**query, "offset": offset})
            except PeerError as exc:
                if str(exc).endswith("HTTP 404"):  # a node of an older version: publishes no deletes
                    note = "/api/v1/federation/tombstones: not published by this peer (deletes are not seen)"
                    if note not in report.skipped:
                        report.skipped.append(note)
                    return None
                raise
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise PeerError("/api/v1/federation/tombstones: not a tombstone list (expected an object with items)")
            for stone in page["items"]:
                offset += 1
                deleted_at = parse_time(stone.get("deleted_at")) if isinstance(stone, dict) else None
                rid = stone.get("id") if isinstance(stone, dict) else None
                if deleted_at is None or isinstance(rid, bool) or not isinstance(rid, (int, str)) \
                        or stone.get("type") != item_type:
                    report.skipped.append(f"tombstones[{offset - 1}]: not a tombstone of {item_type}")
                    continue
                self._remove(peer, item_type, str(rid)[:500], deleted_at, report)
                if newest is None or deleted_at > newest:
                    newest = deleted_at
            self.session.commit()
            if len(page["items"]) < PAGE_SIZE:
                return min(newest, started).isoformat() if newest else None
        raise PeerError(f"/api/v1/federation/tombstones: more than {MAX_PAGES} pages")

    def _remove(self, peer, item_type: str, remote_id: str, deleted_at: datetime | None,
                report: HarvestReport) -> None:
        existing = self.session.scalar(select(FederatedItem).where(
            FederatedItem.peer_id == peer.id, FederatedItem.item_type == item_type,
            FederatedItem.remote_id == remote_id))
        if existing is None:
            return
        if deleted_at is not None and existing.remote_updated_at is not None \
                and as_utc(existing.remote_updated_at) > deleted_at:
            return  # a later item under a reused id (a peer of an older version)
        self.session.delete(existing)
        report.deleted += 1
        if len(report.removed) < MAX_CHANGED_REPORTED:
            report.removed.append(f"{item_type}:{remote_id}")

    def _sweep_catalog(self, peer, started: datetime, report: HarvestReport) -> None:
        """After a complete read of the catalogue: a dataset it no longer lists is gone."""
        gone = self.session.scalars(select(FederatedItem).where(
            FederatedItem.peer_id == peer.id, FederatedItem.item_type == "dataset",
            FederatedItem.last_seen_at < started))
        for item in list(gone):
            self._remove(peer, "dataset", item.remote_id, None, report)
        self.session.commit()

    # --- DCAT catalogue -------------------------------------------------------------------------
    def _harvest_catalog(self, client: PeerClient, peer, report: HarvestReport) -> bool:
        """Reads every page of the catalogue; True when it was read to its end."""
        from rdflib import Graph, URIRef

        url: str | None = "/api/v1/catalog.jsonld"
        seen: set[str] = set()
        for _ in range(MAX_CATALOG_PAGES):
            if url is None:
                return True
            if url in seen:
                return False  # a loop of pages: what we did not reach is not known to be gone
            seen.add(url)
            body = client.get_bytes(url, accept="application/ld+json")
            graph = Graph()
            try:
                graph.parse(data=body.decode("utf-8"), format="json-ld", base=client.url(url))
            except Exception as exc:  # noqa: BLE001 - any parser failure means "not JSON-LD"
                raise PeerError(f"{url}: invalid JSON-LD ({exc.__class__.__name__}: {str(exc)[:120]})") from None
            datasets = list(graph.subjects(URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                                           URIRef(DCAT + "Dataset")))
            if not datasets and not list(graph.subjects(None, URIRef(DCAT + "Catalog"))):
                raise PeerError(f"{url}: JSON-LD without a dcat:Catalog or dcat:Dataset")
            for ds in datasets:
                self._store_dataset(graph, ds, peer, report)
            self.session.commit()
            nxt = next(iter(graph.objects(None, URIRef(HYDRA + "next"))), None)
            url = str(nxt) if nxt is not None else None
            if url and not url.startswith(client.base_url):
                return False  # never follow a peer's catalogue onto another host
        return url is None

    def _store_dataset(self, graph, ds, peer, report: HarvestReport) -> None:
        from rdflib import Literal, URIRef

        def first(pred: str, lang: str = "nl") -> str:
            values = [v for v in graph.objects(ds, URIRef(DCT + pred)) if isinstance(v, Literal)]
            chosen = [v for v in values if v.language == lang] or values
            return str(chosen[0]) if chosen else ""

        if self._describes_record(graph, ds, peer):
            return
        modified = parse_time(first("modified")) if first("modified") else None
        if modified is None:
            report.skipped.append(f"catalog dataset {ds}: no valid dct:modified")
            return
        title = first("title")[:500]
        themes = sorted(str(t) for t in graph.objects(ds, URIRef(DCAT + "theme")))[:50]
        row = {"remote_id": str(ds)[:500], "title": title, "summary": first("description")[:20000],
               "city_code": None, "themes": themes, "status": None, "remote_updated_at": modified,
               "payload": {"@id": str(ds), "title": title, "modified": modified.isoformat()}}
        self._store(peer, "dataset", row, str(ds), report)

    @staticmethod
    def _describes_record(graph, ds, peer) -> bool:
        """True for an entry whose only distribution is a registry record's JSON on the peer
        (older nodes published every project as a dataset); the record itself is harvested."""
        from rdflib import URIRef

        record = re.compile(re.escape(peer.base_url.rstrip("/")) + r"/api/v1/(%s)/\d+$" % "|".join(REGISTRY_LISTS))
        urls = [str(u) for dist in graph.objects(ds, URIRef(DCAT + "distribution"))
                for u in graph.objects(dist, URIRef(DCAT + "accessURL"))]
        return any(record.match(u) for u in urls)
