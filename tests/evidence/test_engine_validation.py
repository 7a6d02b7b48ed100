"""Validation of the engine on seeded synthetic series with planted effects.

Hourly series with daily and weekly cycles, shared weather and AR(1) noise are
simulated in numpy, aggregated to daily means (the same reduction the SQL does)
and run through the engine's statistics layer. 200 trials per scenario; the
longer study is benchmarks/evidence_validation.py (results in docs/evidence.md).
"""

from stadslab.evidence.simulate import Scenario, coverage_study


def test_interval_covers_a_planted_effect_about_95_percent_of_the_time():
    res = coverage_study(200, Scenario(effect=-3.0), seed=20240601, n_boot=499)
    assert 0.90 <= res["coverage"] <= 0.98, res
    assert res["rejects_zero"] > 0.8, res  # a 3 µg/m³ drop is found in most trials


def test_false_positives_stay_near_five_percent_without_an_effect():
    res = coverage_study(200, Scenario(effect=0.0), seed=20240602, n_boot=499)
    assert res["rejects_zero"] <= 0.09, res
    assert 0.91 <= res["coverage"] <= 1.0, res


def test_before_after_without_controls_is_still_calibrated_but_wider():
    with_ctrl = coverage_study(200, Scenario(effect=0.0), seed=20240603, n_boot=499)
    alone = coverage_study(200, Scenario(effect=0.0), seed=20240603, n_boot=499, use_control=False)
    assert alone["rejects_zero"] <= 0.10, alone
    assert alone["mean_width"] > with_ctrl["mean_width"]
