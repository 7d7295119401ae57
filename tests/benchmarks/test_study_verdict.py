"""benchmarks/study.py's verdict across cells (issue 27.6): LW-KD minus each method per cell, Holm over the whole
planned family (untested comparisons at p = 1), and the "better in k of n cells" tally."""

import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

LWKD, PAPER_LWKD, SUP = ("lwkd", "tuned"), ("lwkd", "paper"), ("sup", "tuned")
LSR, TFKD, KD = ("lsr", "tuned"), ("tfkd", "tuned"), ("kd", "tuned")
NO_ADV, NO_KL = ("lwkd-no-adv", "tuned"), ("lwkd-no-kl", "tuned")


@pytest.fixture
def scores():
    first = {LWKD: [0.80, 0.82, 0.81], SUP: [0.79, 0.80, 0.805], LSR: [0.83, 0.845, 0.84], TFKD: [0.81, 0.83, 0.80],
             KD: [0.80, 0.82, 0.81], PAPER_LWKD: [0.78, 0.79, 0.785], NO_ADV: [0.80, 0.821, 0.81],
             NO_KL: [0.70, 0.72, 0.715]}
    second = {LWKD: [0.90, 0.91], SUP: [0.88, 0.90], LSR: [0.91], TFKD: [], KD: [0.89, 0.905],
              PAPER_LWKD: [0.90, 0.91]}  # no ablations planned; two seeds of three; LW-KD's tuned setting the paper's
    return {"first": {p: dict(enumerate(v)) for p, v in first.items()},
            "second": {p: dict(enumerate(v)) for p, v in second.items()}}


def test_one_holm_family_of_distinct_planned_comparisons_incomplete_ones_at_p_1(study, scores):
    entries = study.cross_cell(scores, seeds=3)
    assert [(study.verdict_label(e["row"]), e["cell"]) for e in entries][:4] == [
        ("LW-KD (tuned) − sup", "first"), ("LW-KD (tuned) − sup", "second"),
        ("LW-KD (tuned) − LSR (tuned)", "first"), ("LW-KD (tuned) − LSR (tuned)", "second")]
    assert len(entries) == 7 + 5 and {e["family"] for e in entries} == {11}  # the second cell: no ablation, and
    # LW-KD (paper) − sup is LW-KD (tuned) − sup there
    assert [e["complete"] for e in entries if e["cell"] == "second"] == [False] * 5
    raw = {}
    for e in entries:
        a, b = (scores[e["cell"]][pair] for pair in e["row"])
        seeds = sorted(set(a) & set(b))
        assert e["comparison"].n == len(seeds)
        diffs = [a[s] - b[s] for s in seeds]
        if len(seeds) < 3:
            p = 1.0
        elif len(set(diffs)) == 1:  # no spread (KD equal to LW-KD here): scipy gives NaN, paired_difference 1
            p = 0.0 if diffs[0] else 1.0
        else:
            p = stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue
        raw[(e["cell"], tuple(a.items()), tuple(b.items()))] = p
    expected = dict(zip(raw, multipletests(list(raw.values()), method="holm")[1]))
    assert [e["p_holm"] for e in entries] == pytest.approx(list(expected[k] for k in (
        (e["cell"], tuple(scores[e["cell"]][e["row"][0]].items()), tuple(scores[e["cell"]][e["row"][1]].items()))
        for e in entries)), abs=1e-12)
    no_kl = next(e for e in entries if e["row"] == (LWKD, NO_KL))
    assert no_kl["comparison"].mean == pytest.approx(0.295 / 3) and no_kl["p_holm"] < 0.05  # large and steady


def test_a_complete_comparisons_holm_p_only_falls_as_the_others_complete(study, scores):
    before = {(e["row"], e["cell"]): e["p_holm"] for e in study.cross_cell(scores, seeds=3)}
    for pair, value in ((LWKD, 0.92), (SUP, 0.90), (KD, 0.91), (PAPER_LWKD, 0.92)):
        scores["second"][pair][2] = value  # the second cell gets its third seed
    scores["second"][LSR] = {0: 0.91, 1: 0.92, 2: 0.90}
    scores["second"][TFKD] = {0: 0.9, 1: 0.9, 2: 0.9}
    after = study.cross_cell(scores, seeds=3)
    assert all(e["complete"] for e in after)
    assert all(e["p_holm"] <= before[e["row"], e["cell"]] + 1e-12 for e in after if e["cell"] == "first")


def test_tally_counts_the_words_over_the_complete_cells_and_names_the_others(study, scores):
    entries = study.cross_cell(scores, seeds=3)

    def tally(row):
        return study.tally([e for e in entries if e["row"] == row])

    assert tally((LWKD, NO_KL)) == "better in 1 of 1 cells, worse in 0"
    assert tally((LWKD, LSR)) == "better in 0 of 1 cells, worse in 1; 1 not complete yet"
    assert tally((LWKD, SUP)) == "better in 0 of 1 cells, worse in 0; 1 not complete yet"
    fake = [{"comparison": study.paired_difference({0: 0.9, 1: 0.8}, {0: 0.8, 1: 0.75}), "p_holm": 0.01},
            {"comparison": study.paired_difference({0: 0.7, 1: 0.6}, {0: 0.8, 1: 0.75}), "p_holm": 0.04},
            {"comparison": study.paired_difference({0: 0.7, 1: 0.6}, {0: 0.8, 1: 0.75}), "p_holm": 0.06}]
    assert study.tally([dict(e, complete=True) for e in fake]) == "better in 1 of 3 cells, worse in 1"


def test_the_plot_keys_each_cell_by_colour_below_the_axis(study, scores, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure plot_intervals draws
    rows = [(study.verdict_label(e["row"]), e["comparison"], "C0" if e["cell"] == "first" else "C1")
            for e in study.cross_cell(scores, seeds=3) if e["comparison"].n >= 2]
    study.plot_intervals(rows, "points", tmp_path / "keyed.png", legend={"C0": "first", "C1": "second"})
    (legend,) = figures[0].legends
    assert [t.get_text() for t in legend.get_texts()] == ["first", "second"]
    assert (tmp_path / "keyed.png").read_bytes()[:4] == b"\x89PNG"


def test_a_cell_without_runs_plans_each_of_its_comparisons_at_p_1(study, scores):
    scores["third"] = {pair: {} for pair in scores["first"]}
    entries = study.cross_cell(scores, seeds=3)
    assert len(entries) == 12 + 7 and {e["family"] for e in entries} == {11 + 7}
    assert all(e["p_holm"] == 1.0 and e["comparison"].n == 0 for e in entries if e["cell"] == "third")


def test_one_seed_gives_no_test_so_no_word(study, scores):
    one = {cell: {pair: {0: seeds[0]} for pair, seeds in pairs.items() if seeds} for cell, pairs in scores.items()}
    entries = study.cross_cell(one, seeds=1)
    assert entries and not any(e["complete"] for e in entries) and {e["p_holm"] for e in entries} == {1.0}
    lower = study.paired_difference({0: 0.80}, {0: 0.85})
    assert study.verdict_word(lower, float("nan")) == "" and study.verdict_word(lower, 0.05) == "worse"
