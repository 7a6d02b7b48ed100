"""Validation of the engine on seeded synthetic series with planted effects.

Hourly series with daily and weekly cycles, shared weather and AR(1) noise are
simulated in numpy, aggregated to daily means (the same reduction the SQL does)
and run through the engine's statistics layer. 200 trials per scenario; the
longer study is benchmarks/evidence_validation.py (results in docs/evidence.md).
"""

from stadslab.evidence.simulate import Scenario, coverage_study, validation_study


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


# --- the assumption checks (parallel pre-trends, a difference that only the controls made) ---------
# Each scenario runs the full verdict (engine.assess) exactly as an evaluation does. Figures of these
# seeded runs are in docs/evidence.md; "false_improved" is the share of trials that end "improved"
# although the intervention did nothing.

def test_checks_keep_a_real_effect_and_its_coverage():
    res = validation_study(200, Scenario(effect=-3.0), seed=20241201)
    assert 0.90 <= res["coverage"] <= 0.98, res
    assert res["improved"] >= 0.88 and res["inconclusive"] <= 0.10, res


def test_checks_rarely_overrule_a_null_result():
    res = validation_study(200, Scenario(effect=0.0), seed=20241202)
    assert res["false_improved"] <= 0.05 and res["inconclusive"] <= 0.08, res
    assert 0.91 <= res["coverage"] <= 1.0, res


def test_intervention_sites_already_declining_is_not_called_improved():
    """No effect, but the intervention sites drift down 0.08 per day through both periods."""
    res = validation_study(200, Scenario(effect=0.0, treat_trend_per_day=-0.08), seed=20241203)
    assert res["improved_without_checks"] >= 0.95, res  # the plain estimate is fooled ...
    assert res["false_improved"] <= 0.05 and res["inconclusive"] >= 0.9, res  # ... the checks are not


def test_a_slow_decline_is_caught_more_often_than_not():
    """A gentler drift (0.04 per day, as large over the study as the -3 effect above) is harder to see."""
    res = validation_study(200, Scenario(effect=0.0, treat_trend_per_day=-0.04), seed=20241204)
    assert res["improved_without_checks"] >= 0.95, res
    assert res["false_improved"] <= 0.6 and res["inconclusive"] >= 0.4, res


def test_only_the_control_sites_rising_is_not_called_improved():
    """No effect; the control sites rise by 3 at the start of the intervention period."""
    res = validation_study(200, Scenario(effect=0.0, control_step=3.0), seed=20241205)
    assert res["improved_without_checks"] >= 0.95, res
    assert res["false_improved"] <= 0.3 and res["inconclusive"] >= 0.7, res
