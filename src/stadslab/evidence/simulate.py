"""Synthetic urban sensor series with known effects: for the engine's validation study and the demo.

Hourly values = site level + daily profile × weekday factor + shared weather (an AR(1)
process per day, common to every site in a city) + site noise (AR(1) per hour) +
the planted effect after the intervention starts. Everything is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import SiteSeries, assess, build_group, estimate_shift, group_change, pretrend_checks

#: Relative daily profiles (24 hourly factors around 1): two rush hours for traffic
#: and NO2, commuting peaks for cyclists, a day/night step for noise.
PROFILES = {
    "no2": np.array([0.6, 0.55, 0.5, 0.5, 0.55, 0.7, 1.0, 1.35, 1.45, 1.25, 1.05, 1.0, 1.0, 1.0, 1.05, 1.15, 1.35,
                     1.45, 1.3, 1.1, 0.95, 0.85, 0.75, 0.65]),
    "cyclists": np.array([0.05, 0.03, 0.02, 0.02, 0.05, 0.2, 0.9, 2.4, 2.6, 1.4, 1.0, 1.1, 1.3, 1.2, 1.1, 1.3, 2.0,
                          2.6, 1.9, 1.2, 0.8, 0.5, 0.3, 0.15]),
    "noise": np.array([0.86, 0.84, 0.83, 0.83, 0.85, 0.9, 0.98, 1.04, 1.06, 1.05, 1.04, 1.04, 1.04, 1.04, 1.05, 1.06,
                       1.07, 1.07, 1.05, 1.02, 1.0, 0.97, 0.93, 0.89]),
    "flat": np.ones(24),
}
#: Weekday factors Monday..Sunday (weekends are quieter).
WEEKLY = {
    "no2": np.array([1.05, 1.06, 1.06, 1.05, 1.04, 0.9, 0.84]),
    "cyclists": np.array([1.08, 1.1, 1.1, 1.08, 1.02, 0.85, 0.77]),
    "noise": np.array([1.01, 1.01, 1.01, 1.01, 1.01, 0.98, 0.97]),
    "flat": np.ones(7),
}


def ar1(rng: np.random.Generator, n: int, phi: float, sigma: float, size: int = 1) -> np.ndarray:
    """``size`` stationary AR(1) paths of length n with innovation sd ``sigma``.

    Vectorised in chunks: within a chunk x[t0+j] = phi^j (phi x[t0-1] + sum_s phi^-s e[t0+s]),
    with chunks short enough that phi^-j stays far from overflow.
    """
    out = np.empty((size, n))
    eps = rng.normal(0, sigma, (size, n))
    prev = rng.normal(0, sigma / np.sqrt(1 - phi * phi), size)  # x[-1], so x[0] is stationary too
    chunk = n if phi == 0 else max(1, min(n, int(10 / -np.log10(abs(phi)))))
    powers = phi ** np.arange(chunk) if phi else np.zeros(chunk)
    for t0 in range(0, n, chunk):
        m = min(chunk, n - t0)
        if phi == 0:
            out[:, t0:t0 + m] = eps[:, t0:t0 + m]
            continue
        p = powers[:m]
        acc = np.cumsum(eps[:, t0:t0 + m] / p, axis=1)
        out[:, t0:t0 + m] = p * (phi * prev[:, None] + acc)
        prev = out[:, t0 + m - 1]
    return out


@dataclass
class Scenario:
    kind: str = "no2"
    level: float = 30.0
    days_pre: int = 84
    days_post: int = 84
    n_treat: int = 3
    n_control: int = 3
    effect: float = 0.0
    weather_phi: float = 0.6
    weather_sigma: float = 3.0
    noise_phi_hourly: float = 0.85
    noise_sigma: float = 4.0
    #: Day-level AR(1) noise of each site on its own (sensor drift, local events).
    site_day_phi: float = 0.5
    site_day_sigma: float = 1.5
    first_weekday: int = 0
    #: The intervention sites' weekly pattern is this much stronger than the controls'.
    weekly_mismatch: float = 0.1
    #: A linear drift of the intervention sites over both periods (per day): they were already
    #: changing before the intervention, with no effect of it.
    treat_trend_per_day: float = 0.0
    #: A step of the control sites only, at the start of the intervention period.
    control_step: float = 0.0


def hourly_sites(rng: np.random.Generator, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(treated, control) arrays of shape (sites, hours); the effect is added to treated after days_pre."""
    days = sc.days_pre + sc.days_post
    hours = days * 24
    weekday = (np.arange(days) + sc.first_weekday) % 7
    prof = np.tile(PROFILES[sc.kind], days)
    weather_day = ar1(rng, days, sc.weather_phi, sc.weather_sigma)[0]
    weather = np.repeat(weather_day, 24)

    def group(n: int, weekly_scale: float, effect: float, trend: float = 0.0) -> np.ndarray:
        week = np.repeat(1 + (WEEKLY[sc.kind][weekday] - 1) * weekly_scale, 24)
        levels = sc.level * rng.uniform(0.8, 1.2, n)[:, None]
        noise = ar1(rng, hours, sc.noise_phi_hourly, sc.noise_sigma * np.sqrt(1 - sc.noise_phi_hourly ** 2), n)
        site_day = np.repeat(ar1(rng, days, sc.site_day_phi, sc.site_day_sigma, n), 24, axis=1)
        x = levels * prof[None, :] * week[None, :] + weather[None, :] + noise + site_day
        x[:, sc.days_pre * 24:] += effect
        if trend:
            x += trend * (np.arange(hours) / 24)[None, :]
        return x

    return (group(sc.n_treat, 1 + sc.weekly_mismatch, sc.effect, sc.treat_trend_per_day),
            group(sc.n_control, 1.0, sc.control_step))


def daily_sites(hourly: np.ndarray, first_day: int, prefix: str) -> list[SiteSeries]:
    """The numpy mirror of the SQL aggregation: mean per site per day."""
    days = hourly.shape[1] // 24
    means = hourly[:, : days * 24].reshape(hourly.shape[0], days, 24).mean(axis=2)
    b = np.arange(first_day, first_day + days, dtype=np.int64)
    return [SiteSeries(f"{prefix}{i}", b, means[i]) for i in range(hourly.shape[0])]


def _groups(rng: np.random.Generator, sc: Scenario):
    first_day = 19000 + ((sc.first_weekday - 19000 % 7 - 3) % 7)  # 1970-01-01 was a Thursday
    treat, ctrl = hourly_sites(rng, sc)
    pre = (first_day, first_day + sc.days_pre)
    post = (first_day + sc.days_pre, first_day + sc.days_pre + sc.days_post)
    return build_group(daily_sites(treat, first_day, "t"), pre, post), \
        build_group(daily_sites(ctrl, first_day, "c"), pre, post), post


def run_checked_trial(rng: np.random.Generator, sc: Scenario, *, direction: str = "lower",
                      confidence: float = 0.95, n_boot: int = 499, use_control: bool = True):
    """One simulated evaluation with the assumption checks, as ``evaluation.evaluate_kpi`` runs it.

    Returns (shift, assessment).
    """
    g_t, g_c, post = _groups(rng, sc)
    seed = int(rng.integers(0, 2**63 - 1))
    if use_control:
        common, it, ic = np.intersect1d(g_t.buckets, g_c.buckets, return_indices=True)
        buckets, values = common, g_t.values[it] - g_c.values[ic]
    else:
        buckets, values = g_t.buckets, g_t.values
    post_mask = buckets >= post[0]
    shift = estimate_shift(buckets, values, post_mask, confidence=confidence, n_boot=n_boot, seed=seed)
    checks = pretrend_checks(buckets, values, post_mask, n_boot=n_boot, seed=seed + 1)
    own = other = None
    if use_control:
        own = group_change(g_t.buckets, g_t.values, g_t.buckets >= post[0], n_boot=n_boot, seed=seed + 2)
        other = group_change(g_c.buckets, g_c.values, g_c.buckets >= post[0], n_boot=n_boot, seed=seed + 3)
    return shift, assess(shift, direction, checks, intervention_change=own, control_change=other)


def validation_study(trials: int, sc: Scenario, seed: int, *, direction: str = "lower", confidence: float = 0.95,
                     n_boot: int = 499, use_control: bool = True) -> dict:
    """Coverage of the planted effect and the shares of each final verdict, checks included.

    ``false_improved`` is the share of trials ending "improved" although the planted effect is
    zero (or not better in ``direction``); ``coverage`` counts intervals covering the planted
    effect; ``inconclusive`` the trials whose checks failed.
    """
    rng = np.random.default_rng(seed)
    counts = {"improved": 0, "no_detectable_effect": 0, "worse": 0, "inconclusive": 0}
    covered = raw_improved = 0
    really_better = sc.effect < 0 if direction == "lower" else sc.effect > 0
    for _ in range(trials):
        shift, a = run_checked_trial(rng, sc, direction=direction, confidence=confidence, n_boot=n_boot,
                                     use_control=use_control)
        counts[a.verdict] += 1
        covered += shift.low <= sc.effect <= shift.high
        raw_improved += a.estimate_verdict == "improved"
    out = {"trials": trials, "coverage": covered / trials, **{k: v / trials for k, v in counts.items()},
           "improved_without_checks": raw_improved / trials}
    out["false_improved"] = 0.0 if really_better else out["improved"]
    return out


def run_trial(rng: np.random.Generator, sc: Scenario, *, confidence: float = 0.95, n_boot: int = 999,
              use_control: bool = True):
    """One simulated evaluation through the engine; returns the :class:`~.engine.Shift`."""
    first_day = 19000 + ((sc.first_weekday - 19000 % 7 - 3) % 7)  # 1970-01-01 was a Thursday
    treat, ctrl = hourly_sites(rng, sc)
    pre = (first_day, first_day + sc.days_pre)
    post = (first_day + sc.days_pre, first_day + sc.days_pre + sc.days_post)
    g_t = build_group(daily_sites(treat, first_day, "t"), pre, post)
    if use_control:
        g_c = build_group(daily_sites(ctrl, first_day, "c"), pre, post)
        common, it, ic = np.intersect1d(g_t.buckets, g_c.buckets, return_indices=True)
        buckets, values = common, g_t.values[it] - g_c.values[ic]
    else:
        buckets, values = g_t.buckets, g_t.values
    post_mask = buckets >= post[0]
    return estimate_shift(buckets, values, post_mask, confidence=confidence, n_boot=n_boot,
                          seed=int(rng.integers(0, 2**63 - 1)))


def coverage_study(trials: int, sc: Scenario, seed: int, *, confidence: float = 0.95, n_boot: int = 999,
                   use_control: bool = True) -> dict:
    """Share of intervals covering the planted effect, and share rejecting zero."""
    rng = np.random.default_rng(seed)
    covered = rejected = 0
    widths, blocks = [], []
    for _ in range(trials):
        s = run_trial(rng, sc, confidence=confidence, n_boot=n_boot, use_control=use_control)
        covered += s.low <= sc.effect <= s.high
        rejected += not (s.low <= 0 <= s.high)
        widths.append(s.high - s.low)
        blocks.append((s.block_pre + s.block_post) / 2)
    return {"trials": trials, "coverage": covered / trials, "rejects_zero": rejected / trials,
            "mean_width": float(np.mean(widths)), "mean_block": float(np.mean(blocks))}
