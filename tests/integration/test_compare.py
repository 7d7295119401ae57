"""``lwkd compare`` end to end on a user's own CSV files and a tiny checkpoint: runs on Ray Tune, the report,
and a comparison interrupted after its first finished run that resumes without repeating it."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import headlines, write_csv

pytestmark = pytest.mark.slow


def compare_command(tmp_path, thucnews_dir, mnist_dir, checkpoint, out):
    for name, n, offset in (("train", 30, 0), ("dev", 8, 40), ("test", 8, 60)):
        write_csv(tmp_path / f"{name}.csv", headlines(thucnews_dir, n, offset=offset), ["title", "topic"])
    return [sys.executable, "-m", "lwkd_hf.cli", "compare",  # train.csv relative: the runs see the caller's folder
            "--train_file", "train.csv", "--validation_file", str(tmp_path / "dev.csv"),
            "--test_file", str(tmp_path / "test.csv"), "--text_column_name", "title", "--label_column_name", "topic",
            "--model_name_or_path", str(checkpoint), "--mnist_dir", str(mnist_dir), "--teacher_per_class", "50",
            "--teacher_epochs", "1", "--methods", "sup,lsr,lwkd", "--seeds", "2", "--num_train_epochs", "1",
            "--per_device_train_batch_size", "16", "--cpus_per_run", "1", "--report_to", "none",
            "--disable_tqdm", "true", "--output_dir", str(out)]


def test_compare_runs_every_method_over_paired_seeds_and_resumes_without_repeating_a_run(
    thucnews_dir, mnist_dir, tiny_checkpoint, tmp_path
):
    out = tmp_path / "comparison"
    command = compare_command(tmp_path, thucnews_dir, mnist_dir, tiny_checkpoint, out)
    env = dict(os.environ, LWKD_CACHE_DIR=str(tmp_path / "cache"))
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("runs/final/*/*/*/compare_run.json")):
        assert first.poll() is None and time.monotonic() < deadline, first.stdout.read() if first.poll() else "timeout"
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)  # as Ctrl-C would
    first.communicate(timeout=120)
    done = {p: p.stat().st_mtime_ns for p in out.glob("runs/final/*/*/*/compare_run.json")}
    assert 1 <= len(done) < 6 and not (out / "comparison.json").exists()

    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"final: {len(done)} of 6 runs finished before, {6 - len(done)} to run" in second.stdout
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done.items())  # not run again
    summary = json.loads((out / "comparison.json").read_text())
    assert sorted((r["method"], r["seed"]) for r in summary["runs"]) == [
        (m, s) for m in ("lsr", "lwkd", "sup") for s in (0, 1)]
    assert summary["split"] == "test" and set(summary["table"]) == {"accuracy", "macro_f1", "ece", "loss"}
    assert [(c["a"], c["b"]) for c in summary["accuracy_differences"]] == [("lsr", "sup"), ("lwkd", "sup"),
                                                                            ("lwkd", "lsr")]
    for run in summary["runs"]:  # each run is lwkd train at its method and seed, with its own record
        record = json.loads((out / "runs" / "final" / run["method"] / "default" / f"seed{run['seed']}"
                             / "run_config.json").read_text())
        assert record["method"]["method"] == run["method"] and record["training"]["seed"] == run["seed"]
    report = (out / "comparison.md").read_text()
    assert report.startswith("# Comparison\n\n**Verdict.** On this data, ") and summary["verdict"] in report
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_without_ray_each_run_has_a_process_of_its_own_and_a_failed_one_is_named(
    thucnews_dir, tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    from lwkd_hf.scripts.compare import FINISHED, CompareArguments, plan, run_all

    for name, n, offset in (("train", 20, 0), ("dev", 5, 40)):
        write_csv(tmp_path / f"{name}.csv", headlines(thucnews_dir, n, offset=offset), ["title", "topic"])
    base = ["--train_file", str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "dev.csv"),
            "--text_column_name", "title", "--label_column_name", "topic", "--model_name_or_path",
            str(tiny_checkpoint), "--num_train_epochs", "1", "--report_to", "none", "--disable_tqdm", "true",
            "--do_train", "true", "--do_eval", "true"]
    runs = plan(base, ["sup", "lsr"], {"sup": [{}], "lsr": [{}]}, [0], "final", tmp_path / "out", 1)
    broken = dict(runs[1], argv=runs[1]["argv"][:-1] + [str(tmp_path / "broken"), "--no_such_option", "1"],
                  dir=str(tmp_path / "broken"))  # its process fails on the unknown option
    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without Ray: `import ray` raises ImportError
    with pytest.raises(RuntimeError, match=f"1 of 3 runs did not finish, e.g. {tmp_path / 'broken'}: see its run.log"):
        run_all(runs + [broken], CompareArguments(cpus_per_run=1, gpus_per_run=0.0), tmp_path / "out", "final")
    out, err = capsys.readouterr()
    assert "Ray is not installed: each run in a process of its own" in err
    assert f"{tmp_path / 'broken'} failed (exit status 1): see its run.log" in out
    assert "not used by the HfArgumentParser: ['--no_such_option', '1']" in (tmp_path / "broken" / "run.log").read_text()
    assert all((tmp_path / "out" / "runs" / "final" / m / "default" / "seed0" / FINISHED).is_file() for m in ("sup", "lsr"))
    assert not (tmp_path / "out" / "ray").exists()
