"""One SensorThings scenario against any STA 1.1 root(s), side by side, with ratios.

    .venv/bin/python -m benchmarks.sta_compare ROOT [ROOT ...] [--observations 200000] [--streams 10]

``ROOT`` is a service root such as ``http://127.0.0.1:8080/FROST-Server/v1.1`` or
``http://127.0.0.1:8000/sta/v1.1``; append ``#bearer=TOKEN`` to send a bearer token to that
root (Stadslab writes need ``sta:write``). Only HTTP and the STA 1.1 standard are used, so the
same client measures Stadslab and its peers. Every root gets the same steps, one root after
the other (never at the same time: they share the cores):

1. setup: ``--things`` Things (a Location each) with ``--streams`` Datastreams in all, by deep insert;
2. ingest: ``CreateObservations`` with ``--rows``-row dataArrays (default 1,000) from one client,
   interleaved over the Datastreams, until ``--observations`` rows are stored → obs/s;
3. single ``POST Datastreams(id)/Observations`` from ``--clients`` threads (default 8),
   ``--posts`` in all → req/s;
4. queries, each ``--repeat`` times (p50/p95): the newest 100 of a Datastream; the nested expand
   ``Things?$expand=Datastreams($expand=Observations($top=5;$orderby=phenomenonTime desc))``;
   ``$filter`` on result and on phenomenonTime; ``$count`` of a Datastream and of a filter.

The table's ratio column is each root against the first (>1: the first is faster/better). A
root's database should be empty of other Things (the expand reads the first page of Things).
All traffic goes to the roots given; loops are bounded by the counts above.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
NESTED = "Datastreams($expand=Observations($top=5;$orderby=phenomenonTime desc))"


@dataclass
class Root:
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> "Root":
        url, _, frag = spec.partition("#")
        headers = {}
        if frag.startswith("bearer="):
            headers["Authorization"] = f"Bearer {frag[len('bearer='):]}"
        host = urlsplit(url).hostname or ""
        if not (host in ("localhost", "::1") or host.startswith("127.")):
            raise SystemExit(f"{url}: only loopback roots are benchmarked here")
        return cls(url.rstrip("/"), headers)


def _ts(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(http: httpx.Client, response: httpx.Response) -> int:
    if response.status_code != 201:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    body = response.json() if response.content else {}
    if "@iot.id" in body:
        return int(body["@iot.id"])
    loc = response.headers["Location"]  # return=minimal servers
    return int(loc.rsplit("(", 1)[1].rstrip(")"))


def setup(http: httpx.Client, things: int, streams: int) -> list[int]:
    per = [streams // things + (1 if i < streams % things else 0) for i in range(things)]
    for t, n in enumerate(per):
        body = {"name": f"compare {t}", "description": "sta_compare",
                "Locations": [{"name": "l", "description": "d", "encodingType": "application/geo+json",
                               "location": {"type": "Point", "coordinates": [4.9 + t / 100, 52.37]}}],
                "Datastreams": [{"name": f"ds {t}.{i}", "description": "d", "observationType": MEASUREMENT,
                                 "unitOfMeasurement": {"name": "degree Celsius", "symbol": "C",
                                                       "definition": "https://qudt.org/vocab/unit/DEG_C"},
                                 "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain",
                                            "metadata": "m"},
                                 "ObservedProperty": {"name": "t", "definition": "https://example.org/t",
                                                      "description": "d"}} for i in range(n)]}
        _id(http, http.post("/Things", json=body))
    ds: list[int] = []
    url: str | None = "/Datastreams?$select=id&$top=1000&$orderby=id"
    while url and len(ds) < 100_000:
        page = http.get(url).json()
        ds += [d["@iot.id"] for d in page["value"]]
        url = page.get("@iot.nextLink")
    return ds[-streams:]


def ingest(http: httpx.Client, ds: list[int], total: int, rows: int) -> float:
    """obs/s of CreateObservations; rows interleaved over the Datastreams, one second apart each."""
    start, done, n = time.perf_counter(), 0, 0
    while done < total:
        k = min(rows, total - done)
        per = {d: [] for d in ds}
        for j in range(k):
            i = done + j
            per[ds[i % len(ds)]].append([_ts(i // len(ds)), round((i * 7919) % 100000 / 100, 2)])
        body = [{"Datastream": {"@iot.id": d}, "components": ["phenomenonTime", "result"], "dataArray": a}
                for d, a in per.items() if a]
        r = http.post("/CreateObservations", json=body)
        if r.status_code != 201 or any("error" in str(x) for x in r.json()):
            raise SystemExit(f"CreateObservations: {r.status_code} {r.text[:300]}")
        done += k
        n += 1
    return total / (time.perf_counter() - start)


def posts(root: Root, ds: list[int], count: int, clients: int, offset: int) -> tuple[float, int]:
    """req/s of single Observation POSTs from ``clients`` threads; returns (rate, failures)."""
    lock, failures, next_i = threading.Lock(), [0], [0]

    def work() -> None:
        with httpx.Client(base_url=root.url, headers=root.headers, timeout=60) as http:
            while True:
                with lock:
                    i = next_i[0]
                    next_i[0] += 1
                if i >= count:
                    return
                r = http.post(f"/Datastreams({ds[i % len(ds)]})/Observations",
                              json={"phenomenonTime": _ts(offset + i), "result": i % 100})
                if r.status_code != 201:
                    with lock:
                        failures[0] += 1

    threads = [threading.Thread(target=work) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return count / (time.perf_counter() - start), failures[0]


def timed(http: httpx.Client, path: str, params: dict, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = http.get(path, params=params)
        out.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise SystemExit(f"{path} {params}: {r.status_code} {r.text[:300]}")
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def queries(http: httpx.Client, ds: list[int], total: int, repeat: int) -> dict[str, list[float]]:
    mid = total // len(ds) // 2
    stream = ds[len(ds) // 2]
    expand = http.get("/Things", params={"$expand": NESTED}).json()
    shown = sum(len(d.get("Observations", [])) for t in expand["value"] for d in t.get("Datastreams", []))
    assert shown, "the nested expand returned no Observations"
    return {
        "newest 100 of a Datastream": timed(http, f"/Datastreams({stream})/Observations",
                                            {"$top": "100", "$orderby": "phenomenonTime desc"}, repeat),
        "Things?$expand=Datastreams($expand=Observations($top=5;…))": timed(
            http, "/Things", {"$expand": NESTED}, repeat),
        "$filter result (one Datastream, $top=100)": timed(
            http, f"/Datastreams({stream})/Observations",
            {"$filter": "result gt 500 and result lt 510", "$top": "100"}, repeat),
        "$filter phenomenonTime (all, $top=100)": timed(
            http, "/Observations", {"$filter": f"phenomenonTime ge {_ts(mid)} and phenomenonTime lt {_ts(mid + 60)}",
                                    "$top": "100"}, repeat),
        "$count of a Datastream": timed(http, f"/Datastreams({stream})/Observations",
                                        {"$count": "true", "$top": "1"}, repeat),
        "$count with $filter result (all)": timed(http, "/Observations",
                                                  {"$count": "true", "$top": "1", "$filter": "result gt 990"},
                                                  repeat),
    }


def run(root: Root, args) -> dict[str, float]:
    out: dict[str, float] = {}
    with httpx.Client(base_url=root.url, headers=root.headers, timeout=300) as http:
        t = time.perf_counter()
        ds = setup(http, args.things, args.streams)
        out["setup s"] = time.perf_counter() - t
        out[f"CreateObservations, {args.rows}-row dataArray, obs/s"] = ingest(http, ds, args.observations, args.rows)
        rate, failed = posts(root, ds, args.posts, args.clients, args.observations)
        out[f"single POST, {args.clients} clients, req/s"] = rate
        out["single POST failures"] = failed
        for name, values in queries(http, ds, args.observations, args.repeat).items():
            out[f"{name} p50 ms"] = pct(values, 50) * 1000
            out[f"{name} p95 ms"] = pct(values, 95) * 1000
    return out


HIGHER_IS_BETTER = ("obs/s", "req/s")


def table(roots: list[Root], results: list[dict[str, float]]) -> str:
    head = "| | " + " | ".join(r.url for r in roots) + (" | " + " | ".join(
        f"first vs {i + 1}" for i in range(1, len(roots))) if len(roots) > 1 else "") + " |"
    lines = [head, "|" + "---|" * (1 + len(roots) + max(0, len(roots) - 1))]
    for key in results[0]:
        vals = [res.get(key, float("nan")) for res in results]
        cells = [f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" for v in vals]
        ratios = []
        for v in vals[1:]:
            if key.endswith(HIGHER_IS_BETTER):
                ratios.append(f"{vals[0] / v:.2f}x" if v else "—")
            elif key.endswith("ms"):
                ratios.append(f"{v / vals[0]:.2f}x" if vals[0] else "—")
            else:
                ratios.append("")
        lines.append(f"| {key} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("roots", nargs="+", help="STA service roots, e.g. http://127.0.0.1:8000/sta/v1.1[#bearer=T]")
    p.add_argument("--things", type=int, default=10)
    p.add_argument("--streams", type=int, default=10)
    p.add_argument("--observations", type=int, default=200_000)
    p.add_argument("--rows", type=int, default=1000, help="rows per CreateObservations request")
    p.add_argument("--posts", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    roots = [Root.parse(r) for r in args.roots]
    results = []
    for root in roots:
        print(f"# {root.url}", flush=True)
        results.append(run(root, args))
    print(table(roots, results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"roots": [r.url for r in roots], "args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
