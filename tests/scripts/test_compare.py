"""lwkd compare: which options reach each run, the grid, the selection on dev, errors before training, the report."""

import json
import math
from pathlib import Path

import pytest

from lwkd_hf.comparison import summarize
from lwkd_hf.scripts.compare import GRIDS, config_name, drop_options, main, plan, read_grid, select, write_report


def test_compare_options_are_dropped_from_each_runs_arguments():
    argv = ["--train_file", "t.csv", "--methods", "sup,lwkd", "--tune", "--seeds=3", "--alpha", "0.3",
            "--report_only", "true", "--output_dir", "OUT"]
    assert drop_options(argv, {"methods", "tune", "seeds", "report_only", "output_dir"}) == [
        "--train_file", "t.csv", "--alpha", "0.3"]


def test_each_run_is_lwkd_train_at_its_method_seed_settings_and_folder(tmp_path):
    runs = plan(["--train_file", "t.csv"], ["sup", "lsr"], {"sup": [{}], "lsr": [{"lsr_epsilon": 0.2}]}, [0, 1],
                "final", tmp_path, 2)
    assert [(r["method"], r["seed"]) for r in runs] == [("sup", 0), ("sup", 1), ("lsr", 0), ("lsr", 1)]
    assert runs[3]["argv"] == ["--train_file", "t.csv", "--method", "lsr", "--seed", "1", "--lsr_epsilon", "0.2",
                               "--output_dir", str(tmp_path / "runs" / "final" / "lsr" / "eps0.2" / "seed1")]
    assert config_name(GRIDS["lwkd"][0]) == "alpha0.5-tau6-klnone-beta0.1-dlr0.1"


def test_grid_is_equal_per_method_or_read_from_a_file(tmp_path):
    assert {m: len(GRIDS[m]) for m in ("lsr", "tfkd", "kd", "lwkd")} == {"lsr": 6, "tfkd": 6, "kd": 6, "lwkd": 6}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"lwkd": [{"beta": 0.0}, {"beta": 0.1}]}))
    assert read_grid(str(path), ["sup", "lwkd"]) == {"sup": [{}], "lwkd": [{"beta": 0.0}, {"beta": 0.1}]}
    path.write_text(json.dumps({"lwkd": {"beta": 0.0}}))
    with pytest.raises(ValueError, match=r"grid.json: expected \{method: \[settings, \.\.\.\]\}"):
        read_grid(str(path), ["lwkd"])


def test_selection_takes_the_best_mean_dev_accuracy_per_method():
    def record(method, settings, seed, accuracy):
        return {"method": method, "settings": settings, "seed": seed, "metrics": {"eval_accuracy": accuracy}}

    records = [record("lsr", {"lsr_epsilon": 0.1}, 100, 0.80), record("lsr", {"lsr_epsilon": 0.1}, 101, 0.90),
               record("lsr", {"lsr_epsilon": 0.2}, 100, 0.86), record("lsr", {"lsr_epsilon": 0.2}, 101, 0.86),
               record("sup", {}, 100, 0.5)]
    assert select(records) == {"lsr": {"lsr_epsilon": 0.2}, "sup": {}}


def test_inputs_are_checked_before_any_run(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nhello,a\n")
    base = ["--train_file", str(tmp_path / "train.csv"), "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match="--methods has lwkd, which needs --mnist_dir"):
        main(base + ["--methods", "sup,lwkd"])
    with pytest.raises(ValueError, match="--methods has kd, which needs --kd_teacher_dir"):
        main(base + ["--methods", "kd"])
    with pytest.raises(ValueError, match="unknown method 'lwdk'"):
        main(base + ["--methods", "lwdk"])
    assert not (tmp_path / "out").exists()


def test_summary_and_report_files(tmp_path):
    runs = [{"method": m, "seed": s, "metrics": {"test_accuracy": acc, "test_macro_f1": acc - 0.01, "test_ece": 0.05,
                                                  "test_loss": 0.5}}
            for m, values in (("sup", [0.80, 0.82]), ("lwkd", [0.81, 0.84])) for s, acc in enumerate(values)]
    summary = summarize(runs, "test")
    assert summary["table"]["accuracy"]["lwkd"]["mean"] == pytest.approx(0.825)
    assert summary["table"]["accuracy"]["lwkd"]["sd"] == pytest.approx(math.sqrt(2) * 0.015)
    write_report(summary, tmp_path, "lwkd compare --seeds 2")
    assert json.loads((tmp_path / "comparison.json").read_text())["verdict"] == summary["verdict"]
    report = (tmp_path / "comparison.md").read_text()
    assert "| lwkd − sup | +1.50 [" in report and "| lwkd | 2 | 82.50 ± 2.12 | 81.50 ± 2.12 | 5.00 ± 0.00 | 0.50 ± 0.00 |" in report
    assert (tmp_path / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_finished_run_made_with_other_arguments_is_refused(tmp_path):
    from lwkd_hf.scripts.compare import FINISHED, finished

    run = plan(["--learning_rate", "1e-3"], ["sup"], {"sup": [{}]}, [0], "final", tmp_path, 2)[0]
    Path(run["dir"]).mkdir(parents=True)
    (Path(run["dir"]) / FINISHED).write_text(json.dumps({"command": "lwkd train --learning_rate 5e-5", "metrics": {}}))
    with pytest.raises(ValueError, match="holds a run made as `lwkd train --learning_rate 5e-5`, not as `lwkd train "
                                         "--learning_rate 1e-3 --method sup"):
        finished([run])


def test_a_finished_run_whose_defaults_changed_since_is_refused(tmp_path, capsys):
    from lwkd_hf.scripts.compare import FINISHED, finished
    from lwkd_hf.scripts.train import parse_arguments, run_arguments

    run = plan(["--train_file", "t.csv"], ["lwkd"], {"lwkd": [{}]}, [0], "final", tmp_path, 2)[0]
    Path(run["dir"]).mkdir(parents=True)
    (Path(run["dir"]) / FINISHED).write_text(json.dumps({"command": "lwkd train " + " ".join(run["argv"]),
                                                         "metrics": {"test_accuracy": 0.5}}))
    recorded = json.loads(json.dumps(run_arguments(*parse_arguments(run["argv"]))))
    recorded["data"].pop("max_seq_length")  # an argument added later is not a difference
    (Path(run["dir"]) / "run_config.json").write_text(json.dumps(recorded))
    assert [r["metrics"] for r in finished([run])] == [{"test_accuracy": 0.5}]
    recorded["training"]["kl_scaling"] = "tau2"  # the default before this version
    (Path(run["dir"]) / "run_config.json").write_text(json.dumps(recorded))
    recorded["training"]["alpha"] = 0.5  # and alpha's
    (Path(run["dir"]) / "run_config.json").write_text(json.dumps(recorded))
    with pytest.raises(ValueError, match=r"ran with other values \(training.alpha: 0.5 -> 0.1; "
                                         r"training.kl_scaling: 'tau2' -> 'none'\)"):
        finished([run])
    assert [r["metrics"] for r in finished([run], strict=False)] == [{"test_accuracy": 0.5}]  # --report_only
    assert "training.alpha: 0.5 -> 0.1" in capsys.readouterr().err


def test_without_ray_as_many_runs_at_once_as_ray_would_place_on_the_machine():
    from lwkd_hf.scripts.compare import CompareArguments, pool_slots

    assert pool_slots(CompareArguments(cpus_per_run=1, gpus_per_run=0.0), 1, 2, 0) == 2  # the cores
    assert pool_slots(CompareArguments(cpus_per_run=2, gpus_per_run=1 / 8), 2, 16, 1) == 8
    assert pool_slots(CompareArguments(cpus_per_run=2, gpus_per_run=1 / 3), 2, 16, 1) == 3  # the GPU's share
    assert pool_slots(CompareArguments(cpus_per_run=1, gpus_per_run=1 / 99), 1, 128, 1) == 99  # 1/(1/99) < 99
    assert pool_slots(CompareArguments(cpus_per_run=4, gpus_per_run=0.5), 4, 16, 2) == 4  # cores and GPUs agree
    assert pool_slots(CompareArguments(cpus_per_run=3, gpus_per_run=1.0), 3, 2, 1) == 1  # at least one
