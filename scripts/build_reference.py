"""Build the package's municipality reference data from ../shared/data/nl-gemeenten.

Keeps only the facts Stadslab needs (code, name, province, population, land area,
centroid) and re-simplifies the outlines for map use. Attribution is kept in
src/stadslab/network/reference/SOURCE.md. Run: .venv/bin/python scripts/build_reference.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT.parent / "shared" / "data" / "nl-gemeenten"
OUT = ROOT / "src" / "stadslab" / "network" / "reference"


def _round(coords, nd=4):
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(c, nd) for c in coords]
    return [_round(c, nd) for c in coords]


def main() -> int:
    if not SRC.exists():
        print(f"missing {SRC}", file=sys.stderr)
        return 1
    rows = list(csv.DictReader(open(SRC / "gemeenten_2025.csv", encoding="utf-8")))
    with open(OUT / "municipalities.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "province", "population", "land_area_km2", "centroid_lat", "centroid_lon"])
        for r in sorted(rows, key=lambda r: r["gm_code"]):
            w.writerow([r["gm_code"], r["name"], r["province"], r["population"], r["land_area_km2"],
                        r["centroid_lat"], r["centroid_lon"]])
    gj = json.load(open(SRC / "gemeenten_2025_wgs84.geojson", encoding="utf-8"))
    outlines = {}
    for feat in gj["features"]:
        geom = shape(feat["geometry"]).simplify(0.001, preserve_topology=True)
        outlines[feat["properties"]["statcode"]] = {"type": geom.geom_type,
                                                    "coordinates": _round(mapping(geom)["coordinates"])}
    with open(OUT / "outlines.json", "w", encoding="utf-8") as fh:
        json.dump(outlines, fh, separators=(",", ":"), sort_keys=True)
    print(f"{len(rows)} municipalities, {len(outlines)} outlines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
