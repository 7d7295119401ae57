"""Paired comparisons, Holm's correction and the binomial half-width against hand computations; the report of
``lwkd compare`` (the family, the verdict) on hand-made scores."""

import math

import pytest

from lwkd_hf.comparison import binomial_half_width, comparisons, holm, paired_difference, verdict


def test_paired_difference_matches_a_hand_t_interval():
    a = {0: 0.90, 1: 0.91, 2: 0.89, 3: 0.92, 9: 0.5}
    b = {0: 0.88, 1: 0.90, 2: 0.88, 3: 0.89, 7: 0.1}
    # diffs 0.02, 0.01, 0.01, 0.03: mean 0.0175, sd 0.0095743, se 0.0047871, t(0.975, 3) = 3.182446
    r = paired_difference(a, b)
    assert r.n == 4 and r.mean == pytest.approx(0.0175)
    assert r.low == pytest.approx(0.0175 - 3.182446 * 0.0047871, abs=1e-6)
    assert r.high == pytest.approx(0.0175 + 3.182446 * 0.0047871, abs=1e-6)
    # t = 3.6556 with 3 degrees of freedom
    assert r.p_value == pytest.approx(0.03535, abs=2e-4)


def test_paired_difference_edge_cases():
    assert math.isnan(paired_difference({0: 1.0}, {1: 1.0}).mean)
    one = paired_difference({0: 0.9}, {0: 0.8})
    assert one.n == 1 and one.mean == pytest.approx(0.1) and math.isnan(one.p_value)
    same = paired_difference({0: 0.75, 1: 0.5}, {0: 0.5, 1: 0.25})  # both differences exactly 0.25
    assert (same.low, same.high, same.p_value) == (0.25, 0.25, 0.0)


def test_holm_steps_down_and_stays_monotone():
    # sorted: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.04, 0.06, 0.06, 0.06
    assert holm([0.04, 0.01, 0.03, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    adjusted = holm([0.01, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_binomial_half_width_at_ten_thousand_examples():
    assert binomial_half_width(0.88, 10_000) == pytest.approx(1.959964 * math.sqrt(0.88 * 0.12 / 10_000))
    assert binomial_half_width(0.88, 10_000) == pytest.approx(0.00637, abs=1e-5)


def test_binomial_half_width_needs_examples():
    with pytest.raises(ValueError, match="needs n >= 1 examples, got n=0"):
        binomial_half_width(0.9, 0)


def scores(**methods):
    return {method: dict(enumerate(values)) for method, values in methods.items()}


def test_the_family_is_each_method_minus_sup_then_lwkd_minus_the_others():
    accuracy = scores(sup=[0.80, 0.82, 0.81], lsr=[0.83, 0.84, 0.84], lwkd=[0.80, 0.83, 0.80])
    family = comparisons(accuracy)
    assert [(c["a"], c["b"]) for c in family] == [("lsr", "sup"), ("lwkd", "sup"), ("lwkd", "lsr")]
    # lsr - sup: 0.03, 0.02, 0.03; lwkd - sup: 0, 0.01, -0.01; lwkd - lsr: -0.03, -0.01, -0.04
    assert [c["mean"] for c in family] == pytest.approx([0.08 / 3, 0.0, -0.08 / 3])
    assert family[1]["p_value"] == pytest.approx(1.0)
    raw = [c["p_value"] for c in family]
    assert [c["p_holm"] for c in family] == pytest.approx(holm(raw))


def test_verdict_names_the_best_method_and_where_lwkd_stands():
    accuracy = scores(sup=[0.80, 0.82, 0.81, 0.80], lsr=[0.83, 0.85, 0.84, 0.83], lwkd=[0.80, 0.83, 0.80, 0.81])
    family = comparisons(accuracy)
    lsr_p = next(c["p_holm"] for c in family if c["a"] == "lsr")
    assert lsr_p < 0.05
    text = verdict(accuracy, family)
    assert text.startswith("On this data, lsr is best, above sup after Holm's correction; lwkd is not distinguishable "
                           "from sup: +0.25 [")
