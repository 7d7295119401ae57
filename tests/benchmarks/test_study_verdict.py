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
              PAPER_LWKD: [0.89, 0.90]}  # no ablations planned; LSR one seed, Tf-KD none yet
    return {"first": {p: dict(enumerate(v)) for p, v in first.items()},
            "second": {p: dict(enumerate(v)) for p, v in second.items()}}


def test_every_planned_comparison_is_in_one_holm_family_untested_ones_at_p_1(study, scores):
    entries = study.cross_cell(scores)
    assert [(study.verdict_label(e["row"]), e["cell"]) for e in entries][:4] == [
        ("LW-KD (tuned) − sup", "first"), ("LW-KD (tuned) − sup", "second"),
        ("LW-KD (tuned) − LSR (tuned)", "first"), ("LW-KD (tuned) − LSR (tuned)", "second")]
    assert len(entries) == 7 + 5  # the second cell plans no ablation
    raw = []
    for e in entries:
        a, b = (scores[e["cell"]][pair] for pair in e["row"])
        seeds = sorted(set(a) & set(b))
        assert e["comparison"].n == len(seeds)
        if len(seeds) >= 2:
            diffs = [a[s] - b[s] for s in seeds]
            if len(set(diffs)) == 1:  # no spread (KD equal to LW-KD here): scipy gives NaN, paired_difference 1
                p = 0.0 if diffs[0] else 1.0
            else:
                p = stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue
            raw.append(p)
        else:
            raw.append(1.0)
    expected = multipletests(raw, method="holm")[1]
    assert [e["p_holm"] for e in entries] == pytest.approx(list(expected), abs=1e-12)
    tested_only = multipletests([p for p, e in zip(raw, entries) if e["comparison"].n >= 2], method="holm")[1]
    assert all(e["p_holm"] >= q - 1e-12 for e, q in zip([e for e in entries if e["comparison"].n >= 2], tested_only))
    no_kl = next(e for e in entries if e["row"] == (LWKD, NO_KL))
    assert no_kl["comparison"].mean == pytest.approx(0.295 / 3) and no_kl["p_holm"] < 0.05  # large and steady


def test_tally_counts_the_words_over_the_tested_cells_and_names_the_untested(study, scores):
    entries = study.cross_cell(scores)

    def tally(row):
        return study.tally([e for e in entries if e["row"] == row])

    assert tally((LWKD, NO_KL)) == "better in 1 of 1 cells, worse in 0"
    assert tally((LWKD, LSR)) == "better in 0 of 1 cells, worse in 1; 1 not tested yet"
    assert tally((LWKD, TFKD)) == "better in 0 of 1 cells, worse in 0; 1 not tested yet"
    assert tally((LWKD, SUP)) == "better in 0 of 2 cells, worse in 0"
    fake = [{"comparison": study.paired_difference({0: 0.9, 1: 0.8}, {0: 0.8, 1: 0.75}), "p_holm": 0.01},
            {"comparison": study.paired_difference({0: 0.7, 1: 0.6}, {0: 0.8, 1: 0.75}), "p_holm": 0.04},
            {"comparison": study.paired_difference({0: 0.7, 1: 0.6}, {0: 0.8, 1: 0.75}), "p_holm": 0.06}]
    assert study.tally(fake) == "better in 1 of 3 cells, worse in 1"


def test_the_plot_keys_each_cell_by_colour_below_the_axis(study, scores, tmp_path):
    rows = [(study.verdict_label(e["row"]), e["comparison"], "C0" if e["cell"] == "first" else "C1")
            for e in study.cross_cell(scores) if e["comparison"].n >= 2]
    study.plot_intervals(rows, "points", tmp_path / "plain.png")
    study.plot_intervals(rows, "points", tmp_path / "keyed.png", legend={"C0": "first", "C1": "second"})

    def size(name):  # a PNG's IHDR: width and height, big-endian, at bytes 16-24
        header = (tmp_path / name).read_bytes()
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")

    assert size("keyed.png")[0] == size("plain.png")[0] and size("keyed.png")[1] > size("plain.png")[1]
