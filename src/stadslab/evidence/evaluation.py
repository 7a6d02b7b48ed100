"""From a resolved design to results: SQL aggregation, then the statistics layer, then words.

Every KPI ends in one of four states: ``ok`` (an effect with an interval and a
verdict), ``no_data`` (a group has no measurements in a period), or
``insufficient_data`` (too few buckets for an honest interval). Only ``ok``
carries an effect; the other states say what is missing instead of a number.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from . import aggregation, engine
from .design import ResolvedDesign, ResolvedKpi

MAX_OUTLIERS_LISTED = 50


def msg(nl: str, en: str) -> dict[str, str]:
    return {"nl": nl, "en": en}


def fmt(x: float, lang: str = "en", signed: bool = False) -> str:
    a = abs(x)
    digits = 1 if a >= 10 else 2 if a >= 1 else 3
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    if lang == "nl":
        text = text.replace(".", ",")
    return text.replace("-", "−")


def _period_label(p, lang: str) -> str:
    start, end = p
    last = (end - timedelta(microseconds=1)).date().isoformat()
    return f"{start.date().isoformat()} – {last}" if lang == "nl" else f"{start.date().isoformat()} to {last}"


def _ranges(rd: ResolvedDesign) -> tuple[tuple[int, int], tuple[int, int]]:
    res = rd.resolution
    step = engine.BUCKET_SECONDS[res]

    def rng(p):
        lo = engine.bucket_index(p[0], res)
        hi_t = p[1]
        hi = engine.bucket_index(hi_t, res) + (0 if (hi_t - engine.EPOCH).total_seconds() % step == 0 else 1)
        return lo, hi

    return rng(rd.baseline), rng(rd.intervention)


def _sites(rows: list[aggregation.BucketRow], streams) -> list[engine.SiteSeries]:
    by_ds: dict[int, list] = {}
    for r in rows:
        if r.mean is not None:
            by_ds.setdefault(r.datastream_id, []).append((r.bucket, r.mean))
    out = []
    for s in streams:
        pts = by_ds.get(s.datastream_id, [])
        out.append(engine.SiteSeries(f"{s.site} (Datastream {s.datastream_id})",
                                     np.array([b for b, _ in pts], dtype=np.int64),
                                     np.array([v for _, v in pts], dtype=float)))
    return out


def _gap_dict(g: engine.GapReport) -> dict[str, Any]:
    return {"expected_buckets": g.expected, "buckets_with_data": g.present, "coverage": round(g.coverage, 4),
            "longest_gap_buckets": g.longest_gap, "gaps": [list(x) for x in g.gaps]}


def _chart_series(buckets: np.ndarray, values: np.ndarray, resolution: str) -> dict[int, float]:
    """Daily points for charts (hourly series are averaged per day)."""
    if resolution == "day":
        return {int(b): float(v) for b, v in zip(buckets, values)}
    days = buckets // 24
    out = {}
    for d in np.unique(days):
        out[int(d)] = float(values[days == d].mean())
    return out


def _non_numeric_message(ex: dict[str, Any]) -> dict[str, str]:
    n, text = ex["non_numeric"], ex["numbers_as_text"]
    nl = f"{n} waarnemingen zonder numeriek resultaat zijn weggelaten"
    en = f"{n} observations without a numeric result were left out"
    if text:
        nl += (f", waarvan {text} getallen die als tekst zijn verstuurd (bijvoorbeeld \"12.5\" in plaats van 12.5); "
               "de bron moet ze als getal sturen om mee te tellen")
        en += (f", {text} of them numbers sent as text (for example \"12.5\" instead of 12.5); the source must "
               "send them as numbers for them to count")
    return msg(nl + ".", en + ".")


def _own_change(gs: engine.GroupSeries, pre, post, season: int, seed: int) -> engine.Shift | None:
    in_pre = (gs.buckets >= pre[0]) & (gs.buckets < pre[1])
    in_post = (gs.buckets >= post[0]) & (gs.buckets < post[1])
    keep = in_pre | in_post
    return engine.group_change(gs.buckets[keep], gs.values[keep], in_post[keep], season_period=season, seed=seed)


def _shift_out(s: engine.Shift | None) -> dict[str, Any] | None:
    return None if s is None else {"estimate": s.effect, "low": s.low, "high": s.high, "confidence": s.confidence}


def _checks_out(a: engine.Assessment) -> dict[str, Any]:
    """The assumption checks as stored: each check, the groups' own changes, and why inconclusive."""
    return {"parallel_pretrends": [c.as_dict() for c in a.checks],
            "passed": all(c.passed is not False for c in a.checks) and "control_only" not in a.reasons,
            "intervention_change": _shift_out(a.intervention_change),
            "control_change": _shift_out(a.control_change), "inconclusive_reasons": a.reasons}


def _check_messages(k: ResolvedKpi, shift: engine.Shift, a: engine.Assessment, did: bool) -> list[dict[str, str]]:
    unit = k.unit
    out = []
    ref = ("het verschil tussen interventie- en controlelocaties" if did else "de meetwaarden",
           "the difference between intervention and control sites" if did else "the measurements")
    for c in a.checks:
        what = {"placebo": ("een nepinterventie halverwege de nulmeting",
                            "a placebo intervention halfway through the baseline"),
                "baseline_slope": ("de trend binnen de nulmeting", "the trend within the baseline")}[c.name]
        conf = int(round(c.confidence * 100))
        if c.passed is None:
            out.append(msg(f"Parallelle trends vóór de interventie konden niet worden getoetst ({what[0]}): {c.problem}.",
                           f"Parallel trends before the intervention could not be checked ({what[1]}): {c.problem}."))
        elif c.passed is False:
            per = " per dag" if c.name == "baseline_slope" else ""
            per_en = " per day" if c.name == "baseline_slope" else ""
            out.append(msg(
                f"Aanname niet houdbaar: {ref[0]} veranderde al vóór de interventie. Toets: {what[0]} geeft "
                f"{fmt(c.estimate, 'nl', True)} {unit}{per} (interval {fmt(c.low, 'nl', True)} tot "
                f"{fmt(c.high, 'nl', True)}, {conf}%), niet nul. " + (
                    "Het oordeel is daarom onbeslist." if "pretrend" in a.reasons else
                    "Die trend gaat tegen het gevonden effect in, dus het effect is eerder onderschat."),
                f"Assumption fails: {ref[1]} was already changing before the intervention. Check: {what[1]} gives "
                f"{fmt(c.estimate, 'en', True)} {unit}{per_en} (interval {fmt(c.low, 'en', True)} to "
                f"{fmt(c.high, 'en', True)}, {conf}%), not zero. " + (
                    "The verdict is therefore inconclusive." if "pretrend" in a.reasons else
                    "That trend runs against the effect found, so the effect is if anything understated.")))
    if did and a.estimate_verdict != "no_detectable_effect":
        own, ctl = a.intervention_change, a.control_change
        claimed = "daling" if shift.effect < 0 else "stijging"
        claimed_en = "fall" if shift.effect < 0 else "rise"
        moved = engine._significant(own)
        if moved != (1 if shift.effect > 0 else -1):
            own_txt = ("" if own is None else
                       f" (eigen verandering {fmt(own.effect, 'nl', True)} {unit}, interval {fmt(own.low, 'nl', True)} "
                       f"tot {fmt(own.high, 'nl', True)})",
                       "" if own is None else
                       f" (own change {fmt(own.effect, 'en', True)} {unit}, interval {fmt(own.low, 'en', True)} to "
                       f"{fmt(own.high, 'en', True)})")
            ctl_txt = ("", "")
            if ctl is not None and "control_only" in a.reasons:
                ctl_txt = (f" De controlelocaties veranderden zelf met {fmt(ctl.effect, 'nl', True)} {unit}; het "
                           "verschil komt van hen, dus het oordeel is onbeslist.",
                           f" The control sites themselves changed by {fmt(ctl.effect, 'en', True)} {unit}; the "
                           "difference comes from them, so the verdict is inconclusive.")
            if moved == 0:
                head = (f"Let op: de interventielocaties zelf lieten geen aantoonbare {claimed} zien",
                        f"Note: the intervention sites themselves showed no detectable {claimed_en}")
            else:
                other = "stegen" if shift.effect < 0 else "daalden"
                other_en = "rose" if shift.effect < 0 else "fell"
                head = (f"Let op: de interventielocaties {other} zelf ook, maar minder dan de controlelocaties; het "
                        "effect is een verschil ten opzichte van de controlelocaties",
                        f"Note: the intervention sites themselves {other_en} too, but less than the control sites; "
                        "the effect is a difference relative to the control sites")
            out.append(msg(f"{head[0]}{own_txt[0]}.{ctl_txt[0]}", f"{head[1]}{own_txt[1]}.{ctl_txt[1]}"))
    return out


def _verdict_text(k: ResolvedKpi, shift: engine.Shift, verdict: str, did: bool, rel: float | None,
                  a: engine.Assessment | None = None) -> dict[str, str]:
    conf = int(round(shift.confidence * 100))
    ref_nl = "ten opzichte van de controlelocaties" if did else "ten opzichte van de nulmeting"
    ref_en = "relative to the control sites" if did else "compared with the baseline"
    unit = k.unit
    out = {}
    for lang in ("nl", "en"):
        name = k.name[lang]
        lo, hi = fmt(shift.low, lang, True), fmt(shift.high, lang, True)
        rel_txt = f" ({fmt(rel, lang, True)} %)" if rel is not None else ""
        if verdict == "inconclusive":
            why = {"pretrend": ("de groepen liepen vóór de interventie al niet gelijk op",
                                "the groups were not moving in parallel before the intervention"),
                   "control_only": ("het verschil komt van de controlelocaties; de interventielocaties zelf "
                                    "veranderden niet aantoonbaar in die richting",
                                    "the difference comes from the control sites; the intervention sites themselves "
                                    "did not change detectably in that direction")}
            reasons = [why[r][0 if lang == "nl" else 1] for r in (a.reasons if a else [])]
            out[lang] = (f"Onbeslist: de geschatte verandering van {fmt(shift.effect, lang, True)} {unit} in {name} "
                         f"{ref_nl} (interval {lo} tot {hi} {unit}) is geen betrouwbaar effect, want "
                         f"{' en '.join(reasons)}." if lang == "nl" else
                         f"Inconclusive: the estimated change of {fmt(shift.effect, lang, True)} {unit} in {name} "
                         f"{ref_en} (interval {lo} to {hi} {unit}) is not a reliable effect, because "
                         f"{' and '.join(reasons)}.")
            continue
        if verdict == "no_detectable_effect":
            out[lang] = (f"Geen aantoonbaar effect: de verandering van {fmt(shift.effect, lang, True)} {unit} in {name} "
                         f"{ref_nl} is bij {conf}% betrouwbaarheid niet van nul te onderscheiden "
                         f"(interval {lo} tot {hi} {unit})." if lang == "nl" else
                         f"No detectable effect: the change of {fmt(shift.effect, lang, True)} {unit} in {name} {ref_en} "
                         f"cannot be told apart from zero at {conf}% confidence (interval {lo} to {hi} {unit}).")
            continue
        up = shift.effect > 0
        head = {"improved": ("Verbeterd", "Improved"), "worse": ("Verslechterd", "Worse")}[verdict]
        if lang == "nl":
            out[lang] = (f"{head[0]}: {name} {'steeg' if up else 'daalde'} met {fmt(abs(shift.effect), lang)} {unit}"
                         f"{rel_txt} {ref_nl} ({conf}%-betrouwbaarheidsinterval {lo} tot {hi} {unit}); "
                         f"{'hoger' if k.direction == 'higher' else 'lager'} is beter.")
        else:
            out[lang] = (f"{head[1]}: {name} {'rose' if up else 'fell'} by {fmt(abs(shift.effect), lang)} {unit}"
                         f"{rel_txt} {ref_en} ({conf}% confidence interval {lo} to {hi} {unit}); "
                         f"{k.direction} is better.")
    return out


def evaluate_kpi(rd: ResolvedDesign, k: ResolvedKpi, rows: list[aggregation.BucketRow], seed_base: str) -> dict:
    """One KPI's result from its bucketed means (the output of one SQL query)."""
    pre, post = _ranges(rd)
    label = lambda b: engine.bucket_label(b, rd.resolution)  # noqa: E731
    did = bool(k.control)
    result: dict[str, Any] = {
        "index": k.index, "kpi": k.code, "project_kpi_id": k.project_kpi_id, "name": k.name, "unit": k.unit,
        "direction": k.direction, "observed_property": {"id": k.observed_property_id, "name": k.observed_property_name},
        "method": "difference_in_differences" if did else "before_after", "messages": [],
        "effect": None, "verdict": None, "verdict_text": None,
        "excluded_observations": {"out_of_range": sum(r.out_of_range for r in rows),
                                  "non_numeric": sum(r.non_numeric for r in rows),
                                  "numbers_as_text": sum(r.numeric_text for r in rows), "valid_range": k.valid_range},
    }
    if not did:
        result["messages"].append(msg(
            "Geen controlelocaties: dit is alleen een voor-na-vergelijking. Veranderingen door weer, seizoen of ander "
            "beleid zijn niet te scheiden van het effect van de interventie.",
            "No control sites: this is a before/after comparison only. Changes caused by weather, season or other "
            "policies cannot be separated from the effect of the intervention."))
    if result["excluded_observations"]["out_of_range"]:
        n = result["excluded_observations"]["out_of_range"]
        result["messages"].append(msg(f"{n} metingen buiten het plausibele bereik {k.valid_range} zijn weggelaten.",
                                      f"{n} observations outside the plausible range {k.valid_range} were left out."))
    if result["excluded_observations"]["non_numeric"]:
        result["messages"].append(_non_numeric_message(result["excluded_observations"]))
    site_lists = {"intervention": _sites(rows, k.intervention)}
    if did:
        site_lists["control"] = _sites(rows, k.control)
    episodes = engine.common_episodes([s for sl in site_lists.values() for s in sl], pre, post)
    groups = {g: engine.build_group(sl, pre, post, label, episodes=episodes) for g, sl in site_lists.items()}
    result["episodes"] = [label(b) for b in sorted(episodes)]
    if episodes:
        days = ", ".join(result["episodes"][:10]) + (" …" if len(episodes) > 10 else "")
        result["messages"].append(msg(
            f"Op {len(episodes)} {'moment' if len(episodes) == 1 else 'momenten'} ({days}) bewogen de locaties "
            "tegelijk sterk mee (een episode in de hele stad, zoals weer of een feestdag). Dat zijn geen "
            "uitschieters: ze zijn meegenomen.",
            f"At {len(episodes)} {'time' if len(episodes) == 1 else 'times'} ({days}) the sites moved sharply "
            "together (a city-wide episode, such as weather or a holiday). These are not outliers: they were kept."))
    result["coverage"] = {g: {"baseline": _gap_dict(engine.gaps(gs.buckets, *pre, rd.resolution)),
                              "intervention": _gap_dict(engine.gaps(gs.buckets, *post, rd.resolution))}
                          for g, gs in groups.items()}
    outliers = [o for gs in groups.values() for o in gs.outliers]
    result["outlier_count"] = len(outliers)
    result["outliers"] = [{"site": o.site, "bucket": o.bucket, "value": round(o.value, 4), "robust_z": round(o.z, 2)}
                          for o in outliers[:MAX_OUTLIERS_LISTED]]
    if outliers:
        result["messages"].append(msg(
            f"{len(outliers)} uitschieters (robuuste z-score boven {engine.OUTLIER_Z:g}) zijn weggelaten.",
            f"{len(outliers)} outliers (robust z-score above {engine.OUTLIER_Z:g}) were left out."))
    result["sites"] = {g: {"used": gs.sites_used, "without_baseline": gs.sites_without_baseline}
                       for g, gs in groups.items()}
    for g, gs in groups.items():
        if gs.sites_without_baseline:
            result["messages"].append(msg(
                f"Locaties zonder metingen in de nulmeting zijn niet meegenomen: {', '.join(gs.sites_without_baseline)}.",
                f"Sites without baseline measurements were left out: {', '.join(gs.sites_without_baseline)}."))
    chart = {g: _chart_series(gs.buckets, gs.values, rd.resolution) for g, gs in groups.items()}
    days = sorted(set().union(*[set(c) for c in chart.values()])) if chart else []
    result["series"] = {"resolution": "day", "buckets": [engine.bucket_label(d, "day") for d in days],
                        **{g: [round(c[d], 4) if d in c else None for d in days] for g, c in chart.items()},
                        "intervention_start": rd.intervention[0].date().isoformat()}
    nl_group = {"intervention": "de interventielocaties", "control": "de controlelocaties"}
    en_group = {"intervention": "the intervention sites", "control": "the control sites"}
    missing = []
    group_streams = {"intervention": {x.datastream_id for x in k.intervention},
                     "control": {x.datastream_id for x in k.control}}
    for g, gs in groups.items():
        for pname, (lo, hi), period in (("baseline", pre, rd.baseline), ("intervention", post, rd.intervention)):
            if not ((gs.buckets >= lo) & (gs.buckets < hi)).any():
                sent = [r for r in rows if r.datastream_id in group_streams[g] and lo <= r.bucket < hi]
                if sent:  # observations arrived, but none is a usable number
                    counts = {"non_numeric": sum(r.non_numeric for r in sent),
                              "numbers_as_text": sum(r.numeric_text for r in sent),
                              "out_of_range": sum(r.out_of_range for r in sent)}
                    p_nl = "nulmeting" if pname == "baseline" else "interventieperiode"
                    missing.append(msg(
                        f"Geen bruikbare metingen van {nl_group[g]} in de {p_nl} ({_period_label(period, 'nl')}): "
                        f"er kwamen {sum(counts.values())} waarnemingen binnen, maar geen bruikbaar getal "
                        f"({counts['numbers_as_text']} getallen als tekst, "
                        f"{counts['non_numeric'] - counts['numbers_as_text']} andere niet-numerieke waarden, "
                        f"{counts['out_of_range']} buiten het plausibele bereik).",
                        f"No usable measurements from {en_group[g]} in the {pname} period "
                        f"({_period_label(period, 'en')}): {sum(counts.values())} observations arrived, but none "
                        f"is a usable number ({counts['numbers_as_text']} numbers sent as text, "
                        f"{counts['non_numeric'] - counts['numbers_as_text']} other non-numeric results, "
                        f"{counts['out_of_range']} outside the plausible range)."))
                    continue
                missing.append(msg(
                    f"Geen metingen van {nl_group[g]} in de {'nulmeting' if pname == 'baseline' else 'interventieperiode'} "
                    f"({_period_label(period, 'nl')}).",
                    f"No measurements from {en_group[g]} in the {pname} period ({_period_label(period, 'en')})."))
    if missing:
        result["status"] = "no_data"
        result["messages"].extend(missing)
        return result
    means = {g: {"baseline": float(gs.values[(gs.buckets >= pre[0]) & (gs.buckets < pre[1])].mean()),
                 "intervention": float(gs.values[(gs.buckets >= post[0]) & (gs.buckets < post[1])].mean())}
             for g, gs in groups.items()}
    result["means"] = {g: {p: round(v, 6) for p, v in m.items()} for g, m in means.items()}
    t = groups["intervention"]
    if did:
        c = groups["control"]
        buckets, it, ic = np.intersect1d(t.buckets, c.buckets, return_indices=True)
        values = t.values[it] - c.values[ic]
    else:
        buckets, values = t.buckets, t.values
    in_pre = (buckets >= pre[0]) & (buckets < pre[1])
    in_post = (buckets >= post[0]) & (buckets < post[1])
    keep = in_pre ^ in_post
    buckets, values, post_mask = buckets[keep], values[keep], in_post[keep]
    try:
        shift = engine.estimate_shift(buckets, values, post_mask, confidence=rd.confidence,
                                      season_period=engine.SEASON[rd.resolution],
                                      seed=engine.seed_for(seed_base, k.index))
    except engine.EngineError as exc:
        result["status"] = "insufficient_data"
        result["messages"].append(msg(f"Te weinig gegevens voor een betrouwbaarheidsinterval: {exc}.",
                                      f"Too little data for a confidence interval: {exc}."))
        return result
    base = means["intervention"]["baseline"]
    rel = shift.effect / abs(base) * 100 if abs(base) > 1e-9 else None
    seed = engine.seed_for(seed_base, k.index)
    season = engine.SEASON[rd.resolution]
    checks = engine.pretrend_checks(buckets, values, post_mask, season_period=season, seed=seed + 1)
    own = other = None
    if did:
        own, other = (_own_change(gs, pre, post, season, seed + i)
                      for i, gs in ((2, t), (3, groups["control"])))
    a = engine.assess(shift, k.direction, checks, intervention_change=own, control_change=other)
    verdict = a.verdict
    result["checks"] = _checks_out(a)
    result["messages"].extend(_check_messages(k, shift, a, did))
    result.update(status="ok", verdict=verdict, estimate_verdict=a.estimate_verdict,
                  verdict_text=_verdict_text(k, shift, verdict, did, rel, a), effect={
        "estimate": shift.effect, "low": shift.low, "high": shift.high, "standard_error": shift.se,
        "confidence": shift.confidence, "relative_pct": rel, "buckets_baseline": shift.n_pre,
        "buckets_intervention": shift.n_post, "block_length_baseline": shift.block_pre,
        "block_length_intervention": shift.block_post, "critical_value": shift.critical_value,
        "bootstrap_replicates": shift.n_boot, "weekly_profile_removed": shift.seasonal_adjusted})
    return result


def evaluate(session: Session, rd: ResolvedDesign) -> tuple[dict, dict]:
    """(results, fingerprint) for a resolved design: one aggregation query per KPI."""
    kpi_results, all_rows, per_kpi, ends = [], [], {}, []
    periods = [rd.baseline, rd.intervention]
    for k in rd.kpis:
        ids = [s.datastream_id for s in k.intervention + k.control]
        rows = aggregation.bucketed_means(session, ids, periods, rd.resolution, k.valid_range)
        first, last = aggregation.time_range(session, ids, periods)
        ends.extend(t for t in (first, last) if t is not None)
        fp = aggregation.fingerprint(rows, first, last)
        per_kpi[str(k.index)] = fp
        kpi_results.append(evaluate_kpi(rd, k, rows, fp["series_sha256"]))
        all_rows.extend(rows)
    summary = {v: sum(1 for r in kpi_results if r.get("verdict") == v) for v in engine.VERDICTS}
    summary["not_evaluable"] = sum(1 for r in kpi_results if r["status"] != "ok")
    fingerprint = {**aggregation.fingerprint(all_rows, min(ends) if ends else None, max(ends) if ends else None),
                   "per_kpi": per_kpi}
    return {"resolution": rd.resolution, "confidence_level": rd.confidence, "summary": summary,
            "kpis": kpi_results}, fingerprint
