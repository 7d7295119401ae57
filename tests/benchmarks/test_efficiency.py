"""benchmarks/efficiency.py's bookkeeping: whole-run ratios bracketed within each call, pooled intervals, and
--append refusing rounds it cannot pool."""

import json
import math
import sys
from pathlib import Path

import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[2]


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


def test_mean_interval_is_the_mean_with_a_t_interval(efficiency):
    ratios = [1.1, 1.2, 1.3]
    summary = efficiency.mean_interval(ratios)
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert summary["mean"] == pytest.approx(1.2)
    assert summary["ci95"] == pytest.approx([1.2 - half, 1.2 + half])
    assert summary["values"] == ratios
    single = efficiency.mean_interval([1.05])
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
    result = {"machine": "M", "runs": [timed("sup", 100.0, 80.0), timed("lwkd cold cache", 120.0, 80.0),
                                       timed("lwkd warm cache", 105.0, 84.0), timed("sup", 110.0, 90.0),
                                       timed("sup", 100.0, 80.0) | {"call": 1},
                                       timed("lwkd cold cache", 125.0, 81.0) | {"call": 1}],
              "step": {"ratios_per_process": [1.01, 0.99], "ratio": 1.0, "ci95": [0.87, 1.13]}}
    efficiency.pool_whole_runs(result)
    assert set(result["from_parts"]) == {"cold", "warm"}  # drawn beside the pooled ratios
    efficiency.plot(result, tmp_path / "e.png")
    png = (tmp_path / "e.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1210, 440)  # 11 x 4 in at 110 dpi
    assert list(tmp_path.iterdir()) == [tmp_path / "e.png"]  # written through a temporary file, nothing left beside


def timed(label: str, wall: float, train: float) -> dict:
    return run(label, wall) | {"train_runtime": train}


def test_ratios_from_parts_add_the_extra_outside_the_loop_and_the_step_ratio_to_a_sup_run(efficiency):
    # seconds outside the training loop: sup 20, 22, 20; cold 48, 44; warm 21, 22
    runs = [timed("sup", 100.0, 80.0), timed("lwkd cold cache", 130.0, 82.0), timed("lwkd warm cache", 104.0, 83.0),
            timed("sup", 110.0, 88.0), timed("lwkd cold cache", 128.0, 84.0), timed("lwkd warm cache", 103.0, 81.0),
            timed("sup", 90.0, 70.0)]
    assert efficiency.outside_training_extras(runs, "cold") == [27.0, 23.0]
    assert efficiency.outside_training_extras(runs, "warm") == [0.0, 1.0]
    implied = efficiency.ratios_from_parts(runs, {"ratio": 1.01, "ci95": [0.99, 1.03]})
    loop = (80 + 88 + 70) / 3 / 100  # the sups' training loop over their mean whole run, 100 s
    half = stats.t.ppf(0.975, 1) * stats.tstd([27.0, 23.0]) / math.sqrt(2)
    cold = implied["cold"]
    assert cold["ratio"] == pytest.approx(1 + 25 / 100 + loop * 0.01)
    assert cold["bounds"] == pytest.approx([1 + (25 - half) / 100 - loop * 0.01, 1 + (25 + half) / 100 + loop * 0.03])
    assert cold["outside_training_extra_seconds"] == pytest.approx(25.0)
    assert cold["sup_wall_seconds"] == pytest.approx(100.0) and cold["sup_training_loop_share"] == pytest.approx(loop)
    assert cold["training_loop_ratios"] == pytest.approx([82 / 84, 84 / 79])  # the check: loops as measured
    assert implied["warm"]["ratio"] == pytest.approx(1 + 0.5 / 100 + loop * 0.01)
    assert efficiency.ratios_from_parts(runs[:1], {"ratio": 1.0, "ci95": [1.0, 1.0]}) == {}  # no LW-KD run yet


def test_the_file_pools_the_parts_once_it_has_a_step_ratio(efficiency):
    result = {"runs": [timed("sup", 100.0, 80.0), timed("lwkd cold cache", 130.0, 82.0),
                       timed("lwkd warm cache", 104.0, 83.0), timed("sup", 110.0, 88.0)]}
    efficiency.pool_whole_runs(result)
    assert "from_parts" not in result
    result["step"] = {"ratio": 1.0, "ci95": [1.0, 1.0]}
    efficiency.pool_whole_runs(result)
    assert result["from_parts"]["cold"]["ratio"] == pytest.approx(1 + 27 / 105)
    assert math.isnan(result["from_parts"]["cold"]["bounds"][0])  # one round: no interval


def test_report_only_pools_a_file_again_and_draws_it(efficiency, tmp_path, monkeypatch, capsys):
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"machine": "M", "runs": [timed("sup", 100.0, 80.0), timed("lwkd cold cache", 130.0, 82.0),
                                                         timed("lwkd warm cache", 104.0, 83.0), timed("sup", 110.0, 88.0)],
                                "step": {"ratios_per_process": [1.0, 1.0], "ratio": 1.0, "ci95": [1.0, 1.0]}}))
    monkeypatch.setattr(sys, "argv", ["efficiency.py", "--output", str(path), "--report-only", "--plot", str(tmp_path / "e.png")])
    efficiency.main()
    written = json.loads(path.read_text())
    assert written["ratios_cold"] == [130 / 105] and written["repeats"] == 1
    assert written["from_parts"]["warm"]["ratio"] == pytest.approx(1 + 0.0 / 105)  # 21 s outside the loop, as sup's
    out = capsys.readouterr().out
    assert "(a) whole run LW-KD / sup, cold cache: 1.238 (mean over 1 rounds" in out
    assert "(e) whole run LW-KD / sup, warm cache, from its parts: 1.000 (0.0 s more outside the training loop" in out
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", sorted(path.name for path in (REPO / "docs" / "results").glob("efficiency*.json")))
def test_every_recorded_file_pools_again(efficiency, name, capsys):
    """The files in docs/results, some written by earlier versions of the script, pool and print without a gap."""
    result = json.loads((REPO / "docs" / "results" / name).read_text())
    efficiency.pool_whole_runs(result)
    efficiency.print_pooled(result)
    cold_runs = sum(run["label"] == "lwkd cold cache" for run in result.get("runs", []))
    assert len(result.get("ratios_cold", [])) == cold_runs == result["repeats"]
    assert ("(a) whole run LW-KD / sup, cold cache" in capsys.readouterr().out) == (cold_runs > 0)
