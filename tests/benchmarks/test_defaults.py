"""benchmarks/defaults.py: lwkd − sup per comparison folder, recomputed from the runs' records."""

import json

import pytest

from .conftest import load_benchmark


def comparison(folder, scores: dict[str, list[float]], alpha: float, kl_scaling: str) -> None:
    for method, accuracies in scores.items():
        for seed, accuracy in enumerate(accuracies):
            run = folder / "runs" / "final" / method / "default" / f"seed{seed}"
            run.mkdir(parents=True)
            (run / "compare_run.json").write_text(json.dumps({"seed": seed, "metrics": {"test_accuracy": accuracy}}))
            (run / "run_config.json").write_text(json.dumps({"training": {"alpha": alpha, "kl_scaling": kl_scaling}}))


@pytest.fixture(scope="module")
def defaults():
    return load_benchmark("defaults")


def test_lwkd_minus_sup_per_folder(defaults, tmp_path):
    comparison(tmp_path / "textcnn-thucnews", {"sup": [0.80, 0.82, 0.81], "lwkd": [0.79, 0.80, 0.80]}, 0.5, "tau2")
    comparison(tmp_path / "dpcnn-thucnews-alpha_0.1", {"sup": [0.70, 0.72], "lwkd": [0.71, 0.72]}, 0.1, "none")
    rows = defaults.differences([tmp_path / "textcnn-thucnews", tmp_path / "dpcnn-thucnews-alpha_0.1"])
    assert [(setting, label) for setting, label, _ in rows] == [("dpcnn-thucnews", "α 0.1, none"),
                                                                ("textcnn-thucnews", "α 0.5, tau2")]
    dpcnn, textcnn = rows[0][2], rows[1][2]
    assert (dpcnn.n, dpcnn.mean) == (2, pytest.approx(0.005))
    assert textcnn.mean == pytest.approx(-0.0133333, abs=1e-6) and textcnn.n == 3
    # ttest_rel on differences (-0.01, -0.02, -0.01): t = mean / (sd / sqrt(3)), sd = 0.005774
    assert textcnn.high - textcnn.mean == pytest.approx(4.302653 * 0.0057735 / 3 ** 0.5, rel=1e-4)
    defaults.plot(rows, tmp_path / "defaults.png")
    assert (tmp_path / "defaults.png").read_bytes()[:4] == b"\x89PNG"


def test_a_folder_without_finished_runs_is_named(defaults, tmp_path):
    comparison(tmp_path / "bert-english", {"sup": [0.99]}, 0.1, "none")
    with pytest.raises(ValueError, match="bert-english: expected finished sup and lwkd runs under runs/final/, found 1 and 0"):
        defaults.differences([tmp_path / "bert-english"])
