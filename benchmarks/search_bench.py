"""Knowledge-base search on 100,000 synthetic projects, SQLite FTS5 and PostgreSQL.

For each dialect: a fresh database (migrated, reference data seeded), N
projects with bilingual text, themes, cities and lessons inserted with Core
bulk inserts, then ``rebuild_index`` (timed: this is the bulk indexing path
that ``stadslab import`` uses). Then a mix of queries (common, medium and rare
words, multi-word, phrases, with and without filters) runs through
``service.search`` (ranking, total, four facets, snippets) and, as the
baseline in the same run, through the bare full-text query on the same data
(``search_fts MATCH ... LIMIT 20`` / ``tsv @@ ... LIMIT 20``: no ranking,
no counting, no snippets). Prints p50/p95 per backend and the ratio, and
writes them to benchmarks/RESULTS.md under "## Search".

The machine is shared, so after one load per dialect the query mix is timed in
several passes (``--passes``, default 3) and the median pass (by p95) is
reported, with every pass's p95 alongside. On PostgreSQL the bulk load is
followed by VACUUM ANALYZE, as autovacuum would do in production
(``rebuild_index`` itself already runs ANALYZE), and both databases are
checkpointed so that the load's deferred writes are not timed.

Run: .venv/bin/python benchmarks/search_bench.py [N] [--passes=3] [--no-write]
"""

from __future__ import annotations

import itertools
import random
import re
import sys
import time
from pathlib import Path

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import fresh_database, machine, percentile  # noqa: E402
from stadslab.labs.models import Lesson, Project, project_themes  # noqa: E402
from stadslab.network.models import Municipality, Theme  # noqa: E402
from stadslab.search import indexer, service  # noqa: E402
from stadslab.search.backends import backend_for  # noqa: E402
from stadslab.search.models import SearchDocument  # noqa: E402
from stadslab.search.text import parse_query  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DB_NAME = "stadslab_bench_search"
ROUNDS = 4

NL_NOUNS = """verlichting lantaarnpaal sensor fiets fietspad stalling lucht kwaliteit meetnet hitte warmte net
laadpaal laadplein auto scooter parkeerplaats afval afvalbak inzameling energie zonnepaneel windmolen batterij
opslag dak regenwater overlast bewoner wijk buurt panel gemeente provincie ondernemer terrein haven logistiek
vracht bevoorrading binnenstad verkeer verkeerslicht kruispunt veiligheid camera privacy algoritme register
tweeling platform dashboard monitoring analyse voorspelling gezondheid geluid oudere zorg woning renovatie
isolatie warmtepomp grondstof bouw infrastructuur glasvezel netwerk proeftuin pilot evaluatie resultaat kennis
samenwerking partner hogeschool universiteit onderzoek innovatie aanbesteding subsidie beleid ambitie doel
uitstoot stikstof klimaat adaptatie biodiversiteit boom schaduw droogte water straat plein park station bus
tram trein metro knooppunt route rit reiziger voetganger school leerling docent bibliotheek sport speeltuin
markt winkel kantoor fabriek boer voedsel tuin natuur rivier dijk kade brug tunnel weg snelweg spoor schip
container kraan drone robot chip meter stroom gas olie waterstof kabel mast antenne signaal data bron set
model kaart locatie adres ruimte plan visie strategie programma project opgave kans risico probleem oplossing
dienst loket app website portaal formulier melding klacht vraag antwoord gesprek sessie bijeenkomst debat
raad wethouder ambtenaar team afdeling directie budget kosten baten winst verlies prijs markt contract norm
regel wet vergunning toezicht handhaving boete incident storing onderhoud beheer inspectie test proef""".split()
NL_ADJ = """slimme groene duurzame elektrische digitale open veilige gezonde circulaire lokale regionale
landelijke nieuwe betere snelle schone stille koele natte droge openbare publieke private gedeelde""".split()
EN_WORDS = """smart lighting streetlight sensor cycling cyclists bike lane air quality monitoring network heat
stress district heating charging station electric car sharing scooter parking waste collection bin energy solar
panel wind turbine battery storage grid congestion green roof rainwater flooding residents neighbourhood
participation citizen panel municipality entrepreneur business park port logistics freight delivery city centre
traffic light junction safety camera privacy algorithm register digital twin open data platform dashboard
analysis prediction health noise elderly care housing renovation insulation pump circular reuse materials
construction infrastructure fibre living lab pilot scaling evaluation results knowledge collaboration partner
university research innovation procurement funding policy ambition goals emissions climate adaptation
biodiversity trees shade drought street square station tram train metro hub route trip passenger pedestrian
school pupil teacher library sports playground market shop office factory farmer food garden nature river
dike quay bridge tunnel road highway rail ship crane drone robot chip meter power gas hydrogen cable mast
antenna signal source model map location space vision strategy programme project challenge opportunity risk
problem solution service app website portal form report complaint question answer meeting debate council
alderman civil servant department budget costs benefits profit price contract standard rule law permit
supervision enforcement fine incident outage maintenance management inspection test trial""".split()
#: Words that occur in only a handful of projects (place names, brands, jargon).
RARE = [f"{a}{b}" for a in ("strijp", "lombok", "kanaleneiland", "merwede", "katendrecht", "zuidas",
                            "binckhorst", "ekkersrijt", "brainport", "houthaven")
        for b in ("", "kwartier", "plein", "haven", "park", "dijk", "poort", "veld", "hof", "zone")]
STOP_NL = "de het een van in op met voor aan bij door naar en om dat die".split()
STOP_EN = "the a of in on with for at by to and that this".split()
STATUSES = ["idea", "pilot", "evaluated", "scaled", "stopped"]


def query_mix() -> list[tuple[str, str, dict]]:
    """(class, query, filters): picked by frequency rank from the generated vocabulary, so the
    classes mean the same at every N. Printed with their match counts."""
    nl, en = vocabularies()["nl"], vocabularies()["en"]
    return [
        *(("common", q, {}) for q in (nl[0], nl[1], en[0], en[1])),
        *(("medium", q, {}) for q in (nl[50], nl[200], en[60], en[120])),
        *(("rare", q, {}) for q in (nl[2500], RARE[3], RARE[27], RARE[55], RARE[81])),
        *(("multi-word", q, {}) for q in (f"{nl[0]} {nl[3]}", f"{nl[10]} {nl[20]} {nl[30]}", f"{en[5]} {en[9]}",
                                          f"{nl[40]} {en[40]}", "slimme verlichting", "laadpaal bewoners")),
        *(("phrase", q, {}) for q in ('"slimme verlichting"', f'"{en[2]} {en[3]}"')),
        ("filtered", nl[0], {"themes": ["data-ai"]}),
        ("filtered", nl[5], {"cities": ["GM0344", "GM0363"]}),
        ("filtered", en[4], {"statuses": ["pilot"], "types": ["project"]}),
    ]


def _zipf_weights(n: int, exponent: float = 0.6) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(n)]


def vocabularies(seed: int = 5) -> dict[str, list[str]]:
    """About 3,000 content words per language, shuffled so that frequency is not alphabetical.

    Dutch gets compounds (noun + noun, as Dutch writes them); English gets adjective-noun
    pairs as separate words. The Zipf exponent of 0.6 makes the most frequent content
    word appear in roughly 40% of the documents: a realistic "very common" term.
    """
    rnd = random.Random(seed)
    nl = list(dict.fromkeys(NL_NOUNS + NL_ADJ + [a + b for a in NL_NOUNS[:60] for b in NL_NOUNS[:45] if a != b]))
    en = list(dict.fromkeys(EN_WORDS))
    rnd.shuffle(nl)
    rnd.shuffle(en)
    return {"nl": nl[:3000], "en": en}


def generate(n: int, cities: list[str], themes: list[str], seed: int = 11):
    """Yields (project row, theme codes, lesson texts); deterministic for a seed."""
    rnd = random.Random(seed)
    vocab = vocabularies()
    weights = {k: _zipf_weights(len(v)) for k, v in vocab.items()}
    cum = {k: list(itertools.accumulate(w)) for k, w in weights.items()}
    stop = {"nl": STOP_NL, "en": STOP_EN}
    city_cum = list(itertools.accumulate(_zipf_weights(len(cities), 1.0)))

    def sentence(lang: str, k: int) -> str:
        content = rnd.choices(vocab[lang], cum_weights=cum[lang], k=k)
        out = []
        for w in content:
            if rnd.random() < 0.4:
                out.append(rnd.choice(stop[lang]))
            out.append(w)
        return " ".join(out).capitalize() + "."

    for i in range(n):
        lang = "nl" if rnd.random() < 0.7 else "en"
        title = " ".join(rnd.choices(vocab[lang], cum_weights=cum[lang], k=rnd.randint(3, 6))).capitalize()
        sentences = [sentence(lang, rnd.randint(6, 12)) for _ in range(rnd.randint(3, 6))]
        if rnd.random() < 0.01:
            sentences.insert(rnd.randrange(len(sentences)), rnd.choice(RARE).capitalize() + ".")
        lessons = [sentence(lang, rnd.randint(8, 15)) for _ in range(rnd.choice((0, 1, 1, 2)))]
        row = {"id": i + 1, "title": f"{title} {i + 1}", "summary": " ".join(sentences),
               "municipality_code": rnd.choices(cities, cum_weights=city_cum)[0], "status": rnd.choice(STATUSES),
               "funding_sources": [], "links": [], "is_demo": False}
        yield row, rnd.sample(themes, rnd.randint(1, 3)), lessons


def load(db, n: int) -> dict[str, float]:
    with db.session() as s:
        cities = list(s.scalars(select(Municipality.code).order_by(Municipality.population.desc(), Municipality.code)))
        themes = list(s.scalars(select(Theme.code).order_by(Theme.position, Theme.code)))
        t0 = time.perf_counter()
        batch, theme_rows, lesson_rows = [], [], []
        for row, codes, lessons in generate(n, cities, themes):
            batch.append(row)
            theme_rows += [{"project_id": row["id"], "theme_code": c} for c in codes]
            lesson_rows += [{"project_id": row["id"], "position": k, "text": t} for k, t in enumerate(lessons)]
            if len(batch) == 10_000:
                _flush(s, batch, theme_rows, lesson_rows)
                batch, theme_rows, lesson_rows = [], [], []
        _flush(s, batch, theme_rows, lesson_rows)
        s.commit()
        t_rows = time.perf_counter() - t0
        t0 = time.perf_counter()
        counts = indexer.rebuild_index(s)
        s.commit()
        t_index = time.perf_counter() - t0
    return {"rows": t_rows, "index": t_index, "docs": sum(counts.values())}


def _flush(s, batch, theme_rows, lesson_rows) -> None:
    if batch:
        s.execute(insert(Project), batch)
        s.execute(insert(project_themes), theme_rows)
        if lesson_rows:
            s.execute(insert(Lesson), lesson_rows)


def vacuum(db) -> None:
    """Settle the database after the bulk load, so that its deferred writes are not timed.

    PostgreSQL: VACUUM ANALYZE (as autovacuum would) and a CHECKPOINT; SQLite: a WAL
    checkpoint. The load writes ~1 GB; flushing it in the background during the timed
    queries made one run's PostgreSQL p95 three times the others'.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if db.dialect == "postgresql":
            conn.execute(text("VACUUM (ANALYZE) search_documents, search_narrow"))
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def time_queries(db) -> dict:
    with db.session() as s:
        backend = backend_for(s)
        cases = query_mix()
        matches, estimated = {}, {}
        for _cls, q, kw in cases:  # warm-up, and match counts for the report
            res = service.search(s, q, **kw)
            matches[q, tuple(kw)] = res.total
            estimated[q, tuple(kw)] = res.total_is_estimate or res.facets_estimated
            backend.bare(s, parse_query(q))
        full: dict[str, list[float]] = {}
        bare: list[float] = []
        for _ in range(ROUNDS):
            for cls, q, kw in cases:
                t0 = time.perf_counter()
                service.search(s, q, **kw)
                full.setdefault(cls, []).append(time.perf_counter() - t0)
                parsed = parse_query(q)
                t0 = time.perf_counter()
                backend.bare(s, parsed)
                bare.append(time.perf_counter() - t0)
        docs = s.scalar(select(func.count()).select_from(SearchDocument))
    return {"full": full, "bare": bare, "matches": matches, "estimated": estimated, "docs": docs,
            "cases": cases}


def ms(v: float) -> str:
    return f"{v * 1000:.1f} ms"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    write = "--no-write" not in sys.argv
    passes = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--passes=")), 3)
    rows, class_rows, pass_rows = [], [], []
    load_before = _loadavg()
    print(f"Search benchmark: {n} projects; {machine()}; load average before: {load_before}")
    for dialect in ("sqlite", "postgresql"):
        with fresh_database(dialect, DB_NAME) as db:
            loaded = load(db, n)
            vacuum(db)
            runs = []
            for k in range(passes):
                res = time_queries(db)
                everything = [t for ts in res["full"].values() for t in ts]
                runs.append((percentile(everything, 95), percentile(everything, 50), res, _loadavg()))
                print(f"  {dialect} pass {k + 1}: p50 {ms(runs[-1][1])}  p95 {ms(runs[-1][0])}  "
                      f"(load {runs[-1][3]})")
        f95, f50, res, _load = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        b50, b95 = percentile(res["bare"], 50), percentile(res["bare"], 95)
        n_est = sum(1 for v in res["estimated"].values() if v)
        print(f"\n{dialect}: {res['docs']:,} documents; projects inserted in {loaded['rows']:.1f} s, "
              f"index built (rebuild_index) in {loaded['index']:.1f} s")
        print(f"  median pass of {passes}: service.search  p50 {ms(f50)}  p95 {ms(f95)}   "
              f"({sum(len(t) for t in res['full'].values())} queries)")
        print(f"  bare full-text  p50 {ms(b50)}  p95 {ms(b95)}")
        print(f"  ratio           p50 {f50 / b50:.1f}x  p95 {f95 / b95:.1f}x")
        print(f"  {n_est} of {len(res['cases'])} queries answered with estimated counts")
        for cls, ts in res["full"].items():
            keys = [(q, tuple(kw)) for c, q, kw in res["cases"] if c == cls]
            counts = [res["matches"][k] for k in keys]
            est = sum(1 for k in keys if res["estimated"][k])
            line = (f"{cls:10s} p50 {ms(percentile(ts, 50)):>9s}  p95 {ms(percentile(ts, 95)):>9s}  "
                    f"matches {min(counts):,}–{max(counts):,}  estimated {est}/{len(keys)}")
            print("    " + line)
            class_rows.append(f"| {dialect} | {cls} | {ms(percentile(ts, 50))} | {ms(percentile(ts, 95))} | "
                              f"{min(counts):,}–{max(counts):,} | {est} of {len(keys)} |")
        rows.append(f"| {dialect} | {res['docs']:,} | {loaded['index']:.1f} s | {ms(f50)} | {ms(f95)} | "
                    f"{ms(b50)} | {ms(b95)} | {f50 / b50:.0f}x / {f95 / b95:.0f}x |")
        pass_rows.append(f"{dialect}: " + ", ".join(f"{ms(r[0])} (load {r[3].split()[0]})" for r in runs))
    load_after = _loadavg()
    print(f"load average after: {load_after}")
    if write:
        _write_results(n, rows, class_rows, pass_rows, passes, f"{load_before} before, {load_after} after")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _write_results(n: int, rows: list[str], class_rows: list[str], pass_rows: list[str], passes: int,
                   load: str) -> None:
    section = "\n".join([
        "## Search", "",
        f"`benchmarks/search_bench.py {n}` — {machine()}; load average {load} "
        "(the machine is shared with other jobs, so absolute figures vary from run to run).", "",
        f"{n:,} synthetic bilingual projects (lessons are documents of their own), indexed with "
        f"`rebuild_index`, then VACUUM ANALYZE + CHECKPOINT (PostgreSQL) / WAL checkpoint (SQLite); {len(query_mix())} queries × {ROUNDS} rounds per "
        f"pass, {passes} passes; the median pass (by p95) is shown. `service.search` = tiered ranking + "
        "total + 4 facets + snippets for a page of 20; baseline = bare full-text match `LIMIT 20` on the same "
        "data (no ranking, counting or snippets). Target: service p95 < 50 ms on both databases, stock "
        "PostgreSQL 15 configuration.", "",
        "Before the narrow reads and estimates (same script, one pass, load ~4): SQLite p50 23.2 ms / p95 "
        "163.0 ms, PostgreSQL p50 52.4 ms / p95 297.4 ms.", "",
        "| backend | documents | index build | search p50 | search p95 | bare p50 | bare p95 | ratio p50 / p95 |",
        "|---|---|---|---|---|---|---|---|",
        *rows, "",
        "p95 of every pass: " + "; ".join(pass_rows) + ".", "",
        "| backend | query class | p50 | p95 | documents matched | answered with estimates |",
        "|---|---|---|---|---|---|",
        *class_rows, "",
        "How (docs/search.md): counting reads only narrow facet columns — SQLite through a covering index "
        "`(id, doc_type, city_code, status, themes_mask)`, PostgreSQL through `search_narrow`, a short row "
        "per document — with themes as a bitmask. Match sets larger than the exact-count limit (SQLite "
        "10,000, PostgreSQL 5,000 documents before facet filters; on PostgreSQL phrase candidates count) "
        "get `total_is_estimate` / `facets_estimated` and are counted on the fixed 1-in-16 sample "
        "(`search_fts_sample` / `search_narrow.sample_tsv`); the web page shows them with ≈. The title "
        "tier is ranked on the title tokens alone (PostgreSQL: the narrow table's title vector), so "
        "common words no longer rank thousands of wide rows. Remaining cost on PostgreSQL: a phrase of "
        "two common words still rechecks every document holding both words to rank the matches.",
        "",
    ])
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"^## Search\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _m: section + "\n", text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(f"\nWritten to {RESULTS}")


if __name__ == "__main__":
    main()
