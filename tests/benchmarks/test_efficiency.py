"""benchmarks/efficiency.py's bookkeeping: whole-run ratios bracketed within each call, pooled intervals, and
--append refusing rounds it cannot pool."""

import math
import sys
from pathlib import Path

import pytest
from scipy import stats

from ..conftest import load_script

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def efficiency():
    """benchmarks/efficiency.py, loaded from its file (it imports its neighbour overhead.py)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        yield load_script(REPO / "benchmarks" / "efficiency.py", "efficiency")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def run(label: str, wall: float, call: int | None = None) -> dict:
    return {"label": label, "wall_seconds": wall} | ({} if call is None else {"call": call})


def test_each_lwkd_run_is_divided_by_the_sups_either_side_within_its_own_call(efficiency):
    runs = [run("sup", 100.0), run("lwkd cold cache", 120.0), run("lwkd warm cache", 105.0), run("sup", 110.0),
            run("lwkd cold cache", 130.0), run("lwkd warm cache", 99.0), run("sup", 90.0),
            # a second call: its first sup brackets its own first round, never the first call's last sup
            run("sup", 200.0, call=1), run("lwkd cold cache", 250.0, call=1), run("lwkd warm cache", 210.0, call=1),
            run("sup", 200.0, call=1)]
    assert efficiency.whole_run_ratios(runs, "cold") == [120 / 105, 130 / 100, 250 / 200]
    assert efficiency.whole_run_ratios(runs, "warm") == [105 / 105, 99 / 100, 210 / 200]


def test_a_round_cut_short_is_divided_by_the_sup_before_it(efficiency):
    runs = [run("sup", 100.0), run("lwkd cold cache", 120.0)]
    assert efficiency.whole_run_ratios(runs, "cold") == [1.2]
    assert efficiency.whole_run_ratios(runs, "warm") == []


def test_ratio_summary_is_the_mean_with_a_t_interval(efficiency):
    ratios = [1.1, 1.2, 1.3]
    summary = efficiency.ratio_summary(ratios)
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert summary["mean"] == pytest.approx(1.2)
    assert summary["ci95"] == pytest.approx([1.2 - half, 1.2 + half])
    assert summary["values"] == ratios
    single = efficiency.ratio_summary([1.05])
    assert single["mean"] == pytest.approx(1.05) and all(math.isnan(x) for x in single["ci95"])


def test_append_refuses_another_machine_other_settings_and_uncommitted_code(efficiency):
    head = efficiency.git("rev-parse", "--short", "HEAD")
    earlier = {"machine": "M", "epochs": 5, "keep_freed_memory": True, "calls": [{"commit": head}]}
    now = {"machine": "M", "epochs": 5, "keep_freed_memory": True, "commit": head}
    efficiency.check_appendable(earlier, now, Path("e.json"))  # the same everything: pooled
    with pytest.raises(SystemExit, match=r"e.json: cannot --append: its machine is 'M', this call's 'N'"):
        efficiency.check_appendable(earlier, now | {"machine": "N"}, Path("e.json"))
    with pytest.raises(SystemExit, match=r"its epochs is 5, this call's 1"):
        efficiency.check_appendable(earlier, now | {"epochs": 1}, Path("e.json"))
    with pytest.raises(SystemExit, match=r"this call \(" + head + r"\+changes\) is not a commit"):
        efficiency.check_appendable(earlier, now | {"commit": head + "+changes"}, Path("e.json"))
    with pytest.raises(SystemExit, match=r"the code of its runs \(None\)"):
        efficiency.check_appendable(earlier | {"calls": []}, now, Path("e.json"))


def test_pooled_figures_follow_the_runs_recorded_so_far(efficiency):
    """A call cut short (here: the second, after its cold run) leaves a file whose pooled ratios and rounds count
    every run it holds, the cut round's cold run divided by the one sup before it."""
    result = {"repeats": 5, "runs": [run("sup", 100.0), run("lwkd cold cache", 120.0), run("lwkd warm cache", 105.0),
                                     run("sup", 110.0), run("sup", 200.0, call=1), run("lwkd cold cache", 230.0, call=1)]}
    efficiency.pool_whole_runs(result)
    assert result["repeats"] == 2
    assert result["ratios_cold"] == [120 / 105, 230 / 200]
    assert result["ratio_cold"] == pytest.approx((120 / 105 + 1.15) / 2)
    half = stats.t.ppf(0.975, 1) * stats.tstd([120 / 105, 1.15]) / math.sqrt(2)
    assert result["ratio_cold_ci95"] == pytest.approx([result["ratio_cold"] - half, result["ratio_cold"] + half])
    assert result["ratios_warm"] == [105 / 105] and math.isnan(result["ratio_warm_ci95"][0])


def test_plot_draws_the_runs_and_the_ratios_as_a_png(efficiency, tmp_path):
    result = {"machine": "M", "runs": [run("sup", 100.0), run("lwkd cold cache", 120.0), run("lwkd warm cache", 105.0),
                                       run("sup", 110.0), run("sup", 100.0, call=1), run("lwkd cold cache", 125.0, call=1)],
              "step": {"ratios_per_process": [1.01, 0.99], "ratio": 1.0, "ci95": [0.87, 1.13]}}
    efficiency.pool_whole_runs(result)
    efficiency.plot(result, tmp_path / "e.png")
    png = (tmp_path / "e.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1210, 440)  # 11 x 4 in at 110 dpi
    assert list(tmp_path.iterdir()) == [tmp_path / "e.png"]  # written through a temporary file, nothing left beside
