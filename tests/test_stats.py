"""Paired comparisons, Holm's correction and the binomial half-width against hand computations."""

import math

import pytest

from lwkd_hf.stats import binomial_half_width, holm, paired_difference


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
    assert binomial_half_width(0.88, 10_000) == pytest.approx(1.96 * math.sqrt(0.88 * 0.12 / 10_000))
    assert binomial_half_width(0.88, 10_000) == pytest.approx(0.00637, abs=1e-5)


def test_binomial_half_width_needs_examples():
    with pytest.raises(ValueError, match="needs n >= 1 examples, got n=0"):
        binomial_half_width(0.9, 0)
