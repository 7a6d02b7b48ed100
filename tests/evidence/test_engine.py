"""Unit tests of the statistics layer (no database)."""

import numpy as np
import pytest

from stadslab.evidence import engine
from stadslab.evidence.simulate import ar1


def test_robust_z_flags_a_spike_but_not_a_flat_series():
    x = np.r_[np.random.default_rng(0).normal(10, 1, 60), 40.0]
    z = engine.robust_z(x)
    assert abs(z[-1]) > 10 and np.all(np.abs(z[:-1]) < 5)
    assert np.all(engine.robust_z(np.full(20, 3.0)) == 0)


def test_block_length_grows_with_autocorrelation():
    whites = [engine.block_length(np.random.default_rng(s).normal(size=400)) for s in range(10)]
    persistent = [engine.block_length(ar1(np.random.default_rng(s), 400, 0.9, 1.0)[0]) for s in range(10)]
    assert np.median(whites) <= 2
    assert np.median(persistent) >= 10


def test_interval_widens_with_autocorrelation_for_the_same_variance():
    rng = np.random.default_rng(2)
    n = 120
    b = np.arange(n)
    post = b >= 60
    white = rng.normal(size=n)
    corr = ar1(rng, n, 0.8, np.sqrt(1 - 0.64))[0]
    w = engine.estimate_shift(b, white, post, season_period=None, seed=1)
    c = engine.estimate_shift(b, corr, post, season_period=None, seed=1)
    assert (c.high - c.low) > (w.high - w.low)


def test_same_seed_same_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(size=80)
    b = np.arange(80)
    a1 = engine.estimate_shift(b, x, b >= 40, seed=7)
    a2 = engine.estimate_shift(b, x, b >= 40, seed=7)
    assert (a1.low, a1.high) == (a2.low, a2.high)


def test_verdict_respects_direction():
    s = engine.Shift(effect=-2, low=-3, high=-1, se=0.5, confidence=0.95, n_pre=30, n_post=30, block_pre=5,
                     block_post=5, mean_pre=0, mean_post=0, seasonal_adjusted=False, n_boot=10)
    assert engine.verdict(s, "lower") == "improved"
    assert engine.verdict(s, "higher") == "worse"
    s.high = 0.5
    assert engine.verdict(s, "lower") == "no_detectable_effect"


def test_too_short_series_is_refused_with_a_reason():
    b = np.arange(12)
    with pytest.raises(engine.EngineError, match="baseline period has 4 usable buckets"):
        engine.estimate_shift(b, np.zeros(12), b >= 4)


def test_unsupported_confidence_is_refused():
    b = np.arange(60)
    with pytest.raises(engine.EngineError, match="confidence"):
        engine.estimate_shift(b, np.zeros(60), b >= 30, confidence=0.93)


def test_gaps_report_coverage_and_ranges():
    present = np.array([0, 1, 2, 5, 6, 9])
    g = engine.gaps(present, 0, 10, "day")
    assert g.expected == 10 and g.present == 6 and g.longest_gap == 2
    assert g.gaps == [("1970-01-04", "1970-01-05"), ("1970-01-08", "1970-01-09")]


def test_fixed_b_critical_values_exceed_normal_and_grow_with_block_fraction():
    assert engine.fixed_b_critical(0.95, 0.0) == pytest.approx(1.96, abs=1e-3)
    assert engine.fixed_b_critical(0.95, 0.2) > engine.fixed_b_critical(0.95, 0.1) > 1.96


def test_group_series_is_not_shifted_when_a_site_drops_out():
    """Sites are centred on their baseline, so a high site missing for a while does not move the mean."""
    b = np.arange(40)
    high = engine.SiteSeries("high", b[b % 10 != 3], np.full((b % 10 != 3).sum(), 100.0))
    low = engine.SiteSeries("low", b, np.full(40, 10.0))
    g = engine.build_group([high, low], (0, 20), (20, 40))
    assert np.allclose(g.values, g.values[0])
