"""Comparing training methods over paired seeds: differences with Student-t intervals (``scipy.stats``), Holm's
correction over a family of comparisons (``statsmodels``), and the summary ``lwkd compare`` reports.

Needs ``scipy`` and ``statsmodels`` (the ``compare`` extra).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
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
    """Paired t comparison (``scipy.stats.ttest_rel``) of two methods' scores keyed by seed; only seeds present in
    both count. With fewer than two shared seeds the interval and p are NaN; with zero spread the interval is the
    point and p is 0 (a nonzero difference) or 1 (none), where scipy would give NaN."""
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    x, y = [a[s] for s in seeds], [b[s] for s in seeds]
    diffs = [u - v for u, v in zip(x, y)]
    n = len(diffs)
    mean = statistics.fmean(diffs) if n else math.nan
    if n < 2:
        return PairedComparison(mean, math.nan, math.nan, math.nan, n)
    if len(set(diffs)) == 1:
        return PairedComparison(mean, mean, mean, 0.0 if mean != 0.0 else 1.0, n)
    result = stats.ttest_rel(x, y)
    interval = result.confidence_interval(confidence)
    return PairedComparison(mean, float(interval.low), float(interval.high), float(result.pvalue), n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (``statsmodels.stats.multitest.multipletests``); NaN stays NaN and does not
    count towards the family size."""
    from statsmodels.stats.multitest import multipletests

    present = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    if present:
        for i, p in zip(present, multipletests([p_values[i] for i in present], method="holm")[1]):
            adjusted[i] = float(p)
    return adjusted


def binomial_half_width(accuracy: float, n: int, confidence: float = 0.95) -> float:
    """Half-width of the normal-approximation interval of one accuracy measured on ``n`` examples (about 0.0064 at
    88 % on 10,000): the test set's own sampling error, which says nothing about a *paired* difference."""
    from scipy import stats

    if n <= 0:
        raise ValueError(f"binomial_half_width needs n >= 1 examples, got n={n}")
    return float(stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(accuracy * (1.0 - accuracy) / n))


# ---- lwkd compare's report ----

#: What each final run reports, as keys of its all_results.json (``prefix`` test or eval) and how it is shown.
MEASURES = {"accuracy": "accuracy (%)", "macro_f1": "macro-F1 (%)", "ece": "ECE (%)", "loss": "NLL"}
PERCENT = {"accuracy", "macro_f1", "ece"}


def comparisons(scores: Mapping[str, Mapping[int, float]], lwkd: str = "lwkd", reference: str = "sup") -> list[dict]:
    """The family: each method minus ``reference``, then ``lwkd`` minus each other method except ``reference``
    (already in the first group), paired by seed, Holm-adjusted together."""
    pairs = [(m, reference) for m in scores if m != reference and reference in scores]
    if lwkd in scores:
        pairs += [(lwkd, m) for m in scores if m not in (lwkd, reference)]
    found = [(a, b, paired_difference(scores[a], scores[b])) for a, b in pairs]
    adjusted = holm([c.p_value for _, _, c in found])
    return [dict(a=a, b=b, **asdict(c), p_holm=p) for (a, b, c), p in zip(found, adjusted)]


def verdict(accuracy: Mapping[str, Mapping[int, float]], family: list[dict], lwkd: str = "lwkd",
            reference: str = "sup", alpha: float = 0.05) -> str:
    """One plain sentence on accuracy: the best method by mean, and where LW-KD stands against ``reference``."""
    means = {m: statistics.fmean(v.values()) for m, v in accuracy.items() if v}
    best = max(means, key=means.get)
    above = [c for c in family if c["b"] == reference and c["a"] == best]
    if best == reference:
        lead = f"On this data, {reference} has the highest mean accuracy"
    elif above and above[0]["p_holm"] < alpha:
        lead = f"On this data, {best} is best, above {reference} after Holm's correction"
    else:
        lead = f"On this data, {best} has the highest mean accuracy, not distinguishable from {reference} after Holm's correction"
    row = next((c for c in family if c["a"] == lwkd and c["b"] == reference), None)
    if row is None or row["n"] < 2:
        return lead + "."
    diff = f"{100 * row['mean']:+.2f} [{100 * row['low']:+.2f}, {100 * row['high']:+.2f}] points"
    if row["p_holm"] < alpha:
        where = "above" if row["mean"] > 0 else "below"
        return f"{lead}; {lwkd} is {where} {reference}: {diff} (Holm p = {row['p_holm']:.3f})."
    return f"{lead}; {lwkd} is not distinguishable from {reference}: {diff} (Holm p = {row['p_holm']:.3f})."


def summarize(runs: list[dict], prefix: str) -> dict:
    """``runs`` (method, seed, metrics) -> per measure and method {seed: value}; the comparison family and verdict on
    accuracy; mean and sd per method and measure."""
    by_measure: dict[str, dict[str, dict[int, float]]] = {}
    for run in runs:
        for measure in MEASURES:
            value = run["metrics"].get(f"{prefix}_{measure}")
            if value is not None:
                by_measure.setdefault(measure, {}).setdefault(run["method"], {})[run["seed"]] = float(value)
    accuracy = by_measure.get("accuracy", {})
    family = comparisons(accuracy)
    table = {
        measure: {m: {"mean": statistics.fmean(v.values()), "sd": statistics.stdev(v.values()) if len(v) > 1 else math.nan,
                      "n": len(v)} for m, v in per_method.items()}
        for measure, per_method in by_measure.items()
    }
    others = {measure: comparisons(per_method) for measure, per_method in by_measure.items() if measure != "accuracy"}
    return {"split": prefix, "scores": by_measure, "table": table, "accuracy_differences": family,
            "other_differences": others, "verdict": verdict(accuracy, family) if accuracy else "no runs finished."}
