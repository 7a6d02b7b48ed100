"""The statistics layer of the evaluation engine: pure numpy, no database.

Input is what the SQL aggregation produced (one mean per site per bucket); output
is an effect with an interval and a verdict. Kept free of I/O so that the
validation study (tests/evidence/test_engine_validation.py, benchmarks/evidence_validation.py)
can run thousands of simulated evaluations through exactly the code the API uses.

Method (see docs/evidence.md for the why):

1. Per site, buckets whose robust z-score (median/MAD within the site and period)
   exceeds ``OUTLIER_Z`` are flagged, reported and left out.
2. Each site is centred on its own baseline mean, then sites are averaged per
   bucket into one series per group, so a site missing for a day does not shift
   the group mean.
3. The analysed series is intervention − control per bucket (difference in
   differences), or the intervention series alone when there are no control sites.
4. The average weekly profile (day of week for daily buckets, hour of week for
   hourly buckets) is estimated from within-period deviations and removed.
5. Effect = mean(after) − mean(before). Its interval comes from a circular
   block bootstrap, run separately in each period, with long blocks (at least 20 %
   of the period, more when the Politis–White (2004) rule asks for it) and the
   fixed-b critical value of Kiefer & Vogelsang (2005) for that block fraction, so
   serial correlation widens the interval as it should.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

ENGINE_VERSION = "1.1.0"
OUTLIER_Z = 5.0
#: A period needs at least this many buckets, and at least three blocks, for an interval.
MIN_BUCKETS = 10
N_BOOT = 1999
VERDICTS = ("improved", "no_detectable_effect", "worse", "inconclusive")


class EngineError(ValueError):
    """The data cannot support an interval; the message says why, in plain words."""


# --------------------------------------------------------------------------- outliers

@dataclass
class Outlier:
    site: str
    bucket: str
    value: float
    z: float


def robust_z(values: np.ndarray) -> np.ndarray:
    """0.6745 (x − median) / MAD; zero where the MAD is zero (a flat series has no outliers)."""
    if values.size == 0:
        return values.astype(float)
    med = np.median(values)
    mad = np.median(np.abs(values - med))
    if mad == 0:
        return np.zeros_like(values, dtype=float)
    return 0.6745 * (values - med) / mad


# --------------------------------------------------------------------------- series building

@dataclass
class SiteSeries:
    """One site's bucket means: ``buckets`` are integer bucket indices (days or hours since the epoch)."""

    site: str
    buckets: np.ndarray
    values: np.ndarray


@dataclass
class GroupSeries:
    buckets: np.ndarray
    values: np.ndarray
    sites_used: list[str]
    sites_without_baseline: list[str]
    outliers: list[Outlier]


def _flagged(s: SiteSeries, pre: tuple[int, int], post: tuple[int, int], z_limit: float):
    """(indices, z-scores) of the site's buckets whose robust z-score within their period exceeds ``z_limit``."""
    idx_all, z_all = [], []
    for lo, hi in (pre, post):
        in_p = (s.buckets >= lo) & (s.buckets < hi)
        if in_p.sum() >= 5:
            z = robust_z(s.values[in_p])
            bad = np.abs(z) > z_limit
            idx_all.extend(np.flatnonzero(in_p)[bad].tolist())
            z_all.extend(z[bad].tolist())
    return idx_all, z_all


def common_episodes(sites: list[SiteSeries], pre: tuple[int, int], post: tuple[int, int],
                    z_limit: float = OUTLIER_Z) -> set[int]:
    """Buckets where at least half of the sites (and at least two) jump the same way at once.

    A city-wide episode (a smog day, a heat wave, a holiday) moves every site together; it is
    real, not a sensor fault, and it cancels in a difference with the control sites. Such
    buckets are kept and reported as episodes instead of being dropped as outliers.
    """
    votes: dict[int, list[int]] = {}
    for s in sites:
        idx, z = _flagged(s, pre, post, z_limit)
        for i, zz in zip(idx, z):
            votes.setdefault(int(s.buckets[i]), []).append(1 if zz > 0 else -1)
    present: dict[int, int] = {}
    for s in sites:
        for b in s.buckets.tolist():
            present[b] = present.get(b, 0) + 1
    out = set()
    for b, signs in votes.items():
        same = max(signs.count(1), signs.count(-1))
        if same >= 2 and same * 2 >= present.get(b, 0):
            out.add(b)
    return out


def build_group(sites: list[SiteSeries], pre: tuple[int, int], post: tuple[int, int],
                label=lambda b: str(b), z_limit: float = OUTLIER_Z, episodes: set[int] | None = None) -> GroupSeries:
    """Centre each site on its baseline mean, drop outliers, average per bucket.

    ``pre``/``post`` are half-open bucket ranges [start, end). Buckets in ``episodes`` (see
    :func:`common_episodes`) are never dropped as outliers.
    """
    outliers: list[Outlier] = []
    no_base: list[str] = []
    used: list[str] = []
    acc: dict[int, list[float]] = {}
    base_levels: list[float] = []
    for s in sites:
        keep = np.ones(s.values.size, dtype=bool)
        idx, z = _flagged(s, pre, post, z_limit)
        for i, zz in zip(idx, z):
            if episodes and int(s.buckets[i]) in episodes:
                continue
            keep[i] = False
            outliers.append(Outlier(s.site, label(int(s.buckets[i])), float(s.values[i]), float(zz)))
        b, v = s.buckets[keep], s.values[keep]
        in_pre = (b >= pre[0]) & (b < pre[1])
        if not in_pre.any():
            no_base.append(s.site)
            continue
        level = float(v[in_pre].mean())
        base_levels.append(level)
        used.append(s.site)
        for bb, vv in zip(b.tolist(), (v - level).tolist()):
            acc.setdefault(bb, []).append(vv)
    grand = float(np.mean(base_levels)) if base_levels else 0.0
    buckets = np.array(sorted(acc), dtype=np.int64)
    values = np.array([np.mean(acc[b]) + grand for b in buckets.tolist()], dtype=float)
    return GroupSeries(buckets, values, used, no_base, outliers)


# --------------------------------------------------------------------------- seasonality

def remove_weekly_profile(buckets: np.ndarray, values: np.ndarray, post_mask: np.ndarray,
                          period: int) -> tuple[np.ndarray, bool]:
    """Subtract the mean profile over a cycle of ``period`` buckets (7 days, 168 hours).

    The profile is estimated from deviations from each period's own mean, so the
    intervention effect does not leak into it. Only applied when every position in
    the cycle is seen at least twice; otherwise the series is returned unchanged.
    """
    pos = np.mod(buckets, period)
    dev = values.copy()
    for mask in (~post_mask, post_mask):
        if mask.any():
            dev[mask] -= values[mask].mean()
    counts = np.bincount(pos, minlength=period)
    if counts.min() < 2:
        return values, False
    profile = np.bincount(pos, weights=dev, minlength=period) / counts
    profile -= profile.mean()
    return values - profile[pos], True


# --------------------------------------------------------------------------- block length

def _autocov(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    n = x.size
    return np.array([np.dot(x[: n - k], x[k:]) / n for k in range(max_lag + 1)])


def block_length(x: np.ndarray) -> int:
    """Politis & White (2004, with Patton et al. 2009 correction) optimal circular-block length."""
    n = x.size
    if n < 8:
        return 1
    kn = max(5, int(math.ceil(math.sqrt(math.log10(n)))))
    m_max = int(math.ceil(math.sqrt(n))) + kn
    m_max = min(m_max, n - 1)
    r = _autocov(x, m_max)
    if r[0] <= 0:
        return 1
    rho = r / r[0]
    crit = 2.0 * math.sqrt(math.log10(n) / n)
    m_hat = None
    for m in range(1, m_max - kn + 1):
        if np.all(np.abs(rho[m + 1: m + kn + 1]) < crit):
            m_hat = m
            break
    if m_hat is None:
        m_hat = m_max - kn
    big_m = min(2 * m_hat, m_max)
    k = np.arange(-big_m, big_m + 1)
    t = np.abs(k) / big_m if big_m else np.zeros_like(k, dtype=float)
    lam = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    rk = r[np.abs(k)]
    g_hat = float(np.sum(lam * np.abs(k) * rk))
    s0 = float(np.sum(lam * rk))
    d_cb = (4.0 / 3.0) * s0 * s0
    if d_cb <= 0:
        return 1
    b = (2.0 * g_hat * g_hat / d_cb) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return int(max(1, min(round(b), n // 3)))


def circular_block_means(x: np.ndarray, b: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` circular-block bootstrap resamples of ``x`` (length kept)."""
    n = x.size
    k = int(math.ceil(n / b))
    starts = rng.integers(0, n, size=(n_boot, k))
    idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(n_boot, k * b)[:, :n] % n
    return x[idx].mean(axis=1)


# --------------------------------------------------------------------------- the estimate

@dataclass
class Shift:
    effect: float
    low: float
    high: float
    se: float
    confidence: float
    n_pre: int
    n_post: int
    block_pre: int
    block_post: int
    mean_pre: float
    mean_post: float
    seasonal_adjusted: bool
    n_boot: int
    critical_value: float = 0.0


def estimate_shift(buckets: np.ndarray, values: np.ndarray, post_mask: np.ndarray, *,
                   confidence: float = 0.95, season_period: int | None = 7, n_boot: int = N_BOOT,
                   seed: int = 0) -> Shift:
    """mean(after) − mean(before) with a block-bootstrap interval that respects autocorrelation.

    Each period is resampled in circular blocks of ``max(Politis–White, 20 % of the
    period)`` buckets; the bootstrap standard error of the difference is multiplied
    by the fixed-b critical value of Kiefer & Vogelsang (2005) for that block
    fraction, because a block variance with long blocks is itself noisy and a
    normal quantile would give intervals that are too short. Raises
    :class:`EngineError` when a period is too short for an honest interval.
    """
    if confidence not in FIXED_B:
        raise EngineError("confidence must be one of " + ", ".join(str(c) for c in sorted(FIXED_B)))
    pre_n, post_n = int((~post_mask).sum()), int(post_mask.sum())
    for name, n in (("baseline", pre_n), ("intervention", post_n)):
        if n < MIN_BUCKETS:
            raise EngineError(f"the {name} period has {n} usable buckets; at least {MIN_BUCKETS} are "
                              "needed for a confidence interval")
    adjusted = False
    if season_period:
        values, adjusted = remove_weekly_profile(buckets, values, post_mask, season_period)
    pre, post = values[~post_mask], values[post_mask]
    b_pre = max(block_length(pre), math.ceil(BLOCK_FRACTION * pre_n))
    b_post = max(block_length(post), math.ceil(BLOCK_FRACTION * post_n))
    for name, n, b in (("baseline", pre_n, b_pre), ("intervention", post_n, b_post)):
        if n < 3 * b:
            raise EngineError(f"the {name} period has {n} buckets but the series is so strongly autocorrelated "
                              f"that blocks of {b} are needed; at least {3 * b} buckets are required")
    rng = np.random.default_rng(seed)
    m_pre = circular_block_means(pre, b_pre, n_boot, rng)
    m_post = circular_block_means(post, b_post, n_boot, rng)
    se = math.sqrt(float(np.var(m_pre, ddof=1) + np.var(m_post, ddof=1)))
    effect = float(post.mean() - pre.mean())
    q = fixed_b_critical(confidence, max(b_pre / pre_n, b_post / post_n))
    return Shift(effect=effect, low=effect - q * se, high=effect + q * se, se=se, confidence=confidence,
                 n_pre=pre_n, n_post=post_n, block_pre=b_pre, block_post=b_post, mean_pre=float(pre.mean()),
                 mean_post=float(post.mean()), seasonal_adjusted=adjusted, n_boot=n_boot, critical_value=q)


#: Kiefer & Vogelsang (2005), Bartlett kernel: two-sided confidence -> cubic in the
#: bandwidth fraction b for the critical value of the t statistic (checked by simulation
#: in benchmarks/evidence_validation.py --check-fixed-b).
FIXED_B = {
    0.80: (1.2816, 1.3040, 0.5135, -0.3386),
    0.90: (1.6449, 2.1859, 0.3142, -0.3427),
    0.95: (1.9600, 2.9694, 0.4160, -0.5324),
    0.98: (2.3263, 4.1618, 0.5368, -0.9060),
}
BLOCK_FRACTION = 0.2


def fixed_b_critical(confidence: float, b: float) -> float:
    c0, c1, c2, c3 = FIXED_B[confidence]
    return c0 + c1 * b + c2 * b * b + c3 * b ** 3


# --------------------------------------------------------------------------- verdict

def verdict(shift: Shift, direction: str) -> str:
    """improved / no_detectable_effect / worse, respecting whether lower or higher is better."""
    if shift.low <= 0 <= shift.high:
        return "no_detectable_effect"
    went_up = shift.effect > 0
    good = went_up if direction == "higher" else not went_up
    return "improved" if good else "worse"


# --------------------------------------------------------------------------- assumption checks

#: Confidence of each assumption check. Two checks at 98 % keep the share of honest
#: evaluations wrongly called inconclusive near 4 % (see the validation suite).
CHECK_CONFIDENCE = 0.98
SLOPE_WIDENING = 1.25
#: Confidence of the groups' own before/after changes (used to tell a control-only difference).
GROUP_CHANGE_CONFIDENCE = 0.90


@dataclass
class Check:
    """One assumption check: an estimate with its interval, and whether the assumption holds.

    ``passed`` is None when the data are too short to check (the reason is in ``problem``).
    """

    name: str
    passed: bool | None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float = CHECK_CONFIDENCE
    problem: str | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "estimate": self.estimate, "low": self.low,
                "high": self.high, "confidence": self.confidence, "problem": self.problem}


def _hac_slope(x: np.ndarray, t: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """OLS slope of ``x`` on ``t`` with a Bartlett (Newey–West) standard error.

    The bandwidth is a fixed fraction of the series and the critical value the fixed-b one for
    that fraction, widened by half for the estimated trend (Bunzel & Vogelsang 2005 report
    larger fixed-b critical values for trend slopes than for a mean); calibrated by the
    null scenarios of the validation suite.
    """
    n = x.size
    tc = t - t.mean()
    sxx = float(np.dot(tc, tc))
    slope = float(np.dot(tc, x - x.mean()) / sxx)
    u = (x - x.mean() - slope * tc) * tc
    m = max(1, math.ceil(BLOCK_FRACTION * n))
    gamma0 = float(np.dot(u, u))
    lrv = gamma0 + 2 * sum((1 - j / (m + 1)) * float(np.dot(u[j:], u[:-j])) for j in range(1, min(m, n - 1) + 1))
    se = math.sqrt(max(lrv, 0.0)) / sxx
    q = fixed_b_critical(confidence, m / n) * SLOPE_WIDENING
    return slope, slope - q * se, slope + q * se


def pretrend_checks(buckets: np.ndarray, values: np.ndarray, post_mask: np.ndarray, *,
                    season_period: int | None = 7, n_boot: int = N_BOOT, seed: int = 0,
                    confidence: float = CHECK_CONFIDENCE) -> list[Check]:
    """Were the groups moving in parallel before the intervention? Two checks on the baseline.

    ``values`` is the analysed series (intervention − control, or the intervention series alone
    without controls); in the baseline it should be level. The *placebo* check pretends the
    intervention started halfway through the baseline and estimates that "effect" with the
    same method as the real one; the *slope* check fits a straight line through the baseline
    (per bucket, with an autocorrelation-robust interval). Either interval excluding zero means
    the series was already drifting, so a before/after difference would partly be that drift.
    """
    pre_b, pre_v = buckets[~post_mask], values[~post_mask]
    n = pre_b.size
    out = []
    half = n // 2
    if half < MIN_BUCKETS:
        out.append(Check("placebo", None, problem=f"the baseline has {n} buckets; a placebo split needs at least "
                                                    f"{2 * MIN_BUCKETS}"))
    else:
        fake_post = np.arange(n) >= half
        try:
            sh = estimate_shift(pre_b, pre_v, fake_post, confidence=confidence, season_period=season_period,
                                n_boot=n_boot, seed=seed)
            out.append(Check("placebo", not (sh.low > 0 or sh.high < 0), sh.effect, sh.low, sh.high, confidence))
        except EngineError as exc:
            out.append(Check("placebo", None, problem=str(exc)))
    if n < MIN_BUCKETS:
        out.append(Check("baseline_slope", None, problem=f"the baseline has {n} buckets; at least {MIN_BUCKETS} "
                                                           "are needed to fit a trend"))
    else:
        v = pre_v
        if season_period:
            v, _ = remove_weekly_profile(pre_b, pre_v, np.zeros(n, dtype=bool), season_period)
        slope, lo, hi = _hac_slope(v, pre_b.astype(float), confidence)
        out.append(Check("baseline_slope", not (lo > 0 or hi < 0), slope, lo, hi, confidence))
    return out


def group_change(buckets: np.ndarray, values: np.ndarray, post_mask: np.ndarray, *,
                 confidence: float = GROUP_CHANGE_CONFIDENCE, season_period: int | None = 7, n_boot: int = N_BOOT,
                 seed: int = 0) -> Shift | None:
    """One group's own before/after change (no controls subtracted), or None when too short."""
    try:
        return estimate_shift(buckets, values, post_mask, confidence=confidence, season_period=season_period,
                              n_boot=n_boot, seed=seed)
    except EngineError:
        return None


def _significant(s: Shift | None) -> int:
    """+1 / −1 when the interval lies above / below zero, 0 otherwise (or when there is no estimate)."""
    if s is None:
        return 0
    return 1 if s.low > 0 else -1 if s.high < 0 else 0


@dataclass
class Assessment:
    """The verdict after the assumption checks, with the reasons when it is inconclusive."""

    verdict: str
    estimate_verdict: str
    reasons: list[str]
    checks: list[Check]
    intervention_change: Shift | None = None
    control_change: Shift | None = None


def assess(shift: Shift, direction: str, checks: list[Check], *, intervention_change: Shift | None = None,
           control_change: Shift | None = None) -> Assessment:
    """The verdict of ``shift``, made "inconclusive" when an assumption it rests on fails.

    Reasons: ``pretrend`` (a baseline check found the series already drifting, in the direction of
    the effect, or in any direction when no effect was found: a drift the other way would only
    make a found effect smaller, so it is reported but does not overturn the verdict);
    ``control_only`` (with controls: the effect says the intervention sites improved or got
    worse relative to the controls, but the intervention sites themselves did not change
    detectably while the control sites did, the other way, so the difference is the controls' own
    change). When both groups moved the same way (a season, the weather) and the intervention
    sites less, that is what a difference in differences is for: the verdict stands, with a note.
    """
    raw = verdict(shift, direction)
    reasons = []
    failed = [c for c in checks if c.passed is False]
    if raw == "no_detectable_effect" and failed:
        reasons.append("pretrend")  # a drift may hide an effect
    elif any((c.estimate or 0) * shift.effect > 0 for c in failed):
        reasons.append("pretrend")  # a drift in the direction of the effect may have produced it
    if raw != "no_detectable_effect" and control_change is not None:
        claimed = 1 if shift.effect > 0 else -1
        if _significant(intervention_change) == 0 and _significant(control_change) == -claimed:
            reasons.append("control_only")
    return Assessment("inconclusive" if reasons else raw, raw, reasons, checks, intervention_change, control_change)


def seed_for(*parts: object) -> int:
    """A bootstrap seed derived from the inputs, so the same data gives the same interval."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


# --------------------------------------------------------------------------- bucket labels

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
BUCKET_SECONDS = {"day": 86400, "hour": 3600}
SEASON = {"day": 7, "hour": 168}


def bucket_index(t: datetime, resolution: str) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int((t - EPOCH).total_seconds() // BUCKET_SECONDS[resolution])


def bucket_label(i: int, resolution: str) -> str:
    t = EPOCH + timedelta(seconds=i * BUCKET_SECONDS[resolution])
    return t.strftime("%Y-%m-%d") if resolution == "day" else t.strftime("%Y-%m-%dT%H:00Z")


@dataclass
class GapReport:
    expected: int
    present: int
    longest_gap: int
    gaps: list[tuple[str, str]] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.present / self.expected if self.expected else 0.0


def gaps(buckets: np.ndarray, lo: int, hi: int, resolution: str, max_listed: int = 10) -> GapReport:
    """Missing buckets in [lo, hi): coverage, longest gap and the first gaps as label ranges."""
    present = np.unique(buckets[(buckets >= lo) & (buckets < hi)])
    expected = hi - lo
    edges = np.concatenate(([lo - 1], present, [hi]))
    steps = np.diff(edges) - 1
    listed: list[tuple[str, str]] = []
    for i in np.flatnonzero(steps > 0)[:max_listed]:
        start, end = int(edges[i] + 1), int(edges[i + 1] - 1)
        listed.append((bucket_label(start, resolution), bucket_label(end, resolution)))
    return GapReport(expected=expected, present=int(present.size), longest_gap=int(steps.max()) if steps.size else 0,
                     gaps=listed)
