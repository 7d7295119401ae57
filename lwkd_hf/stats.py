"""Comparing training methods over seeds: paired differences with t confidence intervals, Holm's
correction for a family of comparisons, and the test set's own binomial sampling error.

Needs ``scipy`` (the ``test``/``bench`` extras).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class PairedComparison:
    """``a - b`` over the seeds both have: mean, ``confidence`` interval (Student t), two-sided p, n."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int


def paired_difference(a: Mapping[int, float], b: Mapping[int, float], confidence: float = 0.95) -> PairedComparison:
    """Paired t comparison of two methods' scores keyed by seed (only seeds present in both count).

    With fewer than two shared seeds the interval and p are NaN; with zero spread the interval is the
    point and p is 0 (a nonzero difference) or 1 (no difference).
    """
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    n = len(diffs)
    if n == 0:
        return PairedComparison(math.nan, math.nan, math.nan, math.nan, 0)
    mean = sum(diffs) / n
    if n < 2:
        return PairedComparison(mean, math.nan, math.nan, math.nan, n)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0.0:
        return PairedComparison(mean, mean, mean, 0.0 if mean != 0.0 else 1.0, n)
    se = sd / math.sqrt(n)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * se
    p = 2 * stats.t.sf(abs(mean / se), n - 1)
    return PairedComparison(mean, mean - half, mean + half, float(p), n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, kept monotone, capped at 1); NaN stays NaN and
    does not count towards the family size."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(order)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def binomial_half_width(accuracy: float, n: int, z: float = 1.96) -> float:
    """Half-width of the normal-approximation interval of an accuracy measured on ``n`` examples
    (about 0.0064 at 88 % on 10,000): the test set's own sampling error."""
    if n <= 0:
        raise ValueError(f"binomial_half_width needs n >= 1 examples, got n={n}")
    return z * math.sqrt(accuracy * (1.0 - accuracy) / n)
