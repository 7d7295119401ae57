"""benchmarks/study.py's report: the cost section (benchmarks/efficiency.py's files rendered as tables, one per
file), the whole page regenerated from the committed records, and the first cell's rerun replacing its runs."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def efficiency_file(path: Path, **parts) -> Path:
    path.write_text(json.dumps({"command": "python efficiency.py", "machine": "M", "epochs": 5,
                                "keep_freed_memory": True, **parts}))
    return path


RUNS = [{"method": "sup", "wall_seconds": 100.0}, {"method": "lwkd", "wall_seconds": 130.0},
        {"method": "lwkd", "wall_seconds": 104.0}, {"method": "sup", "wall_seconds": 110.0}]
STAGE = {"device": "cuda:0", "synthesis_seconds": 0.02, "training_seconds": 9.44, "column_seconds": 0.15,
         "teacher_test_accuracy": 0.9933, "column_rows_per_second": 296951.0}
STEP = {"processes": 3, "ratio": 1.48397, "ci95": [1.36514, 1.60281], "median_step_ms": {"lwkd": 5.248, "trainer": 3.536}}


def test_a_table_per_file_with_every_part(study, tmp_path):
    whole = efficiency_file(tmp_path / "a.json", runs=RUNS, ratio_cold=130 / 105, ratios_cold=[130 / 105],
                            ratio_warm=104 / 105, ratios_warm=[104 / 105], teacher_stage=STAGE, step=STEP)
    lines = study.cost_section([whole, tmp_path / "absent.json"])
    assert lines[1].startswith("## What LW-KD costs (the README's main job, 5 epochs")
    assert lines.count("| figure | measured |") == 1
    assert "`python efficiency.py` on M, freed memory kept (lwkd_hf.allocator) (`docs/results/a.json`):" in lines
    assert "| whole run, LW-KD / sup, empty teacher cache | 1.238 (1.24-1.24 over 1 rounds; sup 105.0 s) |" in lines
    assert "| whole run, LW-KD / sup, teacher from the cache | 0.990 (0.99-0.99 over 1 rounds; sup 105.0 s) |" in lines
    assert "| teacher stage on cuda:0: synthesis / LeNet5 training / column | 0.0 s / 9.4 s / 0.1 s |" in lines
    assert "| teacher's test accuracy on SynMNIST-10 | 99.33 % |" in lines
    assert "| teacher column throughput | 296,951 rows/s |" in lines
    assert ("| training step, LWKDTrainer (β = 0.1) / Trainer, median, mean over 3 processes [95 % CI] | "
            "1.484 [1.365, 1.603]; 5.2 / 3.5 ms |") in lines
    assert not any(line.startswith("| not measured") for line in lines)


def test_a_run_cut_short_shows_what_it_finished_and_says_what_it_did_not(study, tmp_path):
    first = efficiency_file(tmp_path / "a.json", teacher_stage=STAGE, step=STEP)
    cut = efficiency_file(tmp_path / "b.json", runs=RUNS, ratio_cold=1.3, ratio_warm=1.0, teacher_stage=STAGE)
    lines = study.cost_section([first, cut])
    assert lines.count("| figure | measured |") == 2
    assert "| not measured in this run (cut short or skipped) | whole runs |" in lines
    assert "| not measured in this run (cut short or skipped) | step ratio |" in lines
    assert "| whole run, LW-KD / sup, empty teacher cache | 1.300 (1.30-1.30 over 1 rounds; sup 105.0 s) |" in lines
    assert study.cost_section([tmp_path / "absent.json"]) == []


def test_pooled_rounds_show_their_interval(study, tmp_path):
    pooled = efficiency_file(tmp_path / "a.json", runs=RUNS, ratio_cold=1.2, ratios_cold=[1.1, 1.3],
                             ratio_cold_ci95=[0.93, 1.47], ratio_warm=1.0, ratios_warm=[1.0], ratio_warm_ci95=[None, None])
    pooled.write_text(pooled.read_text().replace("null", "NaN"))  # as json.dumps writes a one-round interval
    lines = study.cost_section([pooled])
    assert "| whole run, LW-KD / sup, empty teacher cache | 1.200 [0.930, 1.470] (1.10-1.30 over 2 rounds; sup 105.0 s) |" in lines
    assert "| whole run, LW-KD / sup, teacher from the cache | 1.000 (1.00-1.00 over 1 rounds; sup 105.0 s) |" in lines


def test_the_ratio_implied_by_the_parts_follows_its_whole_run_row(study, tmp_path):
    parts = {"ratio": 1.1634, "bounds": [1.1402, 1.1871], "outside_training_extra_seconds": 41.96,
             "training_loop_ratio": 1.0213}
    one_round = parts | {"bounds": [None, None], "outside_training_extra_seconds": 2.5}
    path = efficiency_file(tmp_path / "a.json", runs=RUNS, ratio_cold=1.2, ratios_cold=[1.2], ratio_warm=1.0,
                           ratios_warm=[1.0], from_parts={"cold": parts, "warm": one_round})
    path.write_text(path.read_text().replace("null", "NaN"))  # as json.dumps writes a one-round interval
    lines = study.cost_section([path])
    assert "`python efficiency.py` on M, freed memory kept (lwkd_hf.allocator) (`docs/results/a.json`):" in lines
    calls = efficiency_file(tmp_path / "b.json", calls=[{}, {}, {}], runs=RUNS, ratio_cold=1.2, ratio_warm=1.0)
    assert ("`python efficiency.py` and 2 later `--append` calls on M, freed memory kept (lwkd_hf.allocator) "
            "(`docs/results/b.json`):") in study.cost_section([calls])
    row = lines.index("| whole run, LW-KD / sup, empty teacher cache | 1.200 (1.20-1.20 over 1 rounds; sup 105.0 s) |")
    assert lines[row + 1] == ("| the same, implied by its parts (efficiency.py's (e)) | 1.163 (bounds 1.140-1.187; "
                              "+42.0 s outside the training loop; the training loops measured 1.021) |")
    assert lines[row + 2].startswith("| whole run, LW-KD / sup, teacher from the cache | 1.000")
    assert lines[row + 3] == ("| the same, implied by its parts (efficiency.py's (e)) | 1.163 (+2.5 s outside the "
                              "training loop; the training loops measured 1.021) |")


def regenerate(root: Path) -> str:
    """benchmarks/study.py --report-only run in ``root`` on the runs under ``root/runs``: the report it writes."""
    import subprocess
    import sys

    subprocess.run([sys.executable, str(REPO / "benchmarks" / "study.py"), "--report-only", "--runs-dir", "runs",
                    "--results-dir", "docs/results/study", "--report", "docs/results.md"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return (root / "docs" / "results.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """The committed records (docs/results/study/records.tar.gz) restored into a fresh folder."""
    import tarfile

    root = tmp_path_factory.mktemp("study")
    with tarfile.open(REPO / "docs" / "results" / "study" / "records.tar.gz") as tar:
        tar.extractall(root / "runs", filter="data")
    return root


def test_the_report_regenerates_byte_for_byte_from_the_committed_records(records):
    assert regenerate(records) == (REPO / "docs" / "results.md").read_text(encoding="utf-8")


def test_a_finished_rerun_replaces_the_first_cells_runs_and_names_the_words_it_changed(records, tmp_path):
    import shutil

    root = tmp_path / "study"
    shutil.copytree(records / "runs", root / "runs")
    if (root / "runs" / "protocol-a-rerun").exists():  # the committed reruns make way for the one built here
        shutil.rmtree(root / "runs" / "protocol-a-rerun")
    for seed in (root / "runs" / "runs").glob("*/*/seed[0-4]"):  # a rerun that reproduces every run...
        shutil.copytree(seed, root / "runs" / "protocol-a-rerun" / seed.relative_to(root / "runs" / "runs"))
    changed = root / "runs" / "protocol-a-rerun" / "lsr" / "eps0.4" / "seed0" / "all_results.json"
    results = json.loads(changed.read_text())
    changed.write_text(json.dumps(results | {"test_accuracy": 0.5}))  # ...but LSR (tuned) on seed 0
    report = regenerate(root)
    assert "| LW-KD minus | TextCNN, THUCNews, protocol A, rerun (5 of 5 seeds) |" in report
    assert ("(words that changed: LW-KD (tuned) − LSR (tuned) in TextCNN, THUCNews, protocol A, rerun: worse → no "
            "word).") in report
    unchanged = ", ".join(f"seed {seed} \\+0.00" for seed in range(1, 5))
    assert re.search(rf"\| lsr \| `eps0.4` \| seed 0 -\d+\.\d\d, {unchanged} \| 4 of 5 \|", report)
    assert "74 of 75 reruns reproduce their original's dev loss and test accuracy exactly." in report
    assert "These tables read the reruns from a clean commit" in report
