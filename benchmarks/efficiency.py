#!/usr/bin/env python
"""What LW-KD costs on top of plain supervision, measured side by side on the machine at hand.

(a) the README's main job as whole processes: ``--method sup``, then ``--repeats`` rounds of ``--method lwkd`` with
    a cold teacher cache (a new, empty ``LWKD_CACHE_DIR``), ``--method lwkd`` again with that cache now warm, and
    ``sup`` (A B B' A B B' A ...); each LW-KD run is divided by the mean of the two sups either side of it, so slow
    drift of the machine falls on both sides, and the ratios are averaged over the rounds;
(b) the teacher stage alone, in parts: SynMNIST synthesis, LeNet5 training, the teacher column;
(c) the training-step ratio LWKDTrainer (beta 0.1) / Trainer (``benchmarks/overhead.py``'s measurement, averaged over
    ``--step-processes`` fresh processes);
(d) the teacher column's throughput in rows per second.

    python benchmarks/efficiency.py --output docs/results/efficiency.json

Every part keeps the memory it frees, as the example script does by default (``lwkd_hf.allocator``);
``--glibc-defaults`` leaves glibc's malloc settings in all of them. Nothing else should run on the machine
meanwhile: with 2 cores, anything beside it corrupts the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from overhead import step_ratios_over_processes

from lwkd_hf.allocator import keep_freed_memory
from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.soft_targets import add_teacher_logits
from lwkd_hf.synthesis import load_mnist, synmnist_arrays
from lwkd_hf.teacher_training import default_per_class, train_teacher
from lwkd_hf.text.data import load_thucnews

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "run_text_classification.py"


def machine() -> str:
    """CPU model and core count, and the GPU's name where there is one."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def main_job(data: Path, method: str, output_dir: Path, cache_dir: Path, epochs: float, keep_memory: bool) -> dict:
    """One whole run of the README's main command (``--method``), timed as a process, with its page faults (fresh
    pages from the kernel: what keeping freed memory saves)."""
    argv = [sys.executable, str(SCRIPT), "--dataset", "thucnews", "--data_dir", str(data / "thucnews"),
            "--vocab_file", str(data / "thucnews" / "vocab.json"),
            "--embeddings_file", str(data / "thucnews" / "embedding_Tencent.npz"), "--model", "textcnn",
            "--method", method, "--mnist_dir", str(data / "mnist"), "--output_dir", str(output_dir),
            "--num_train_epochs", str(epochs), "--disable_tqdm", "true", "--keep_freed_memory", str(keep_memory)]
    faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    start = time.perf_counter()
    done = subprocess.run(argv, env=dict(os.environ, LWKD_CACHE_DIR=str(cache_dir)), capture_output=True, text=True)
    wall = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - faults
    if done.returncode != 0:
        raise RuntimeError(f"{method} run failed:\n{done.stderr[-3000:]}")
    results = json.loads((output_dir / "all_results.json").read_text())
    return {"method": method, "wall_seconds": wall, "train_runtime": results["train_runtime"],
            "test_accuracy": results["test_accuracy"], "minor_page_faults": faults}


def teacher_stage(data: Path, device: str | None) -> dict:
    """Synthesis, training and the column, each timed (no cache: this is the cold cost)."""
    mnist = load_mnist(data / "mnist", "train")
    counts = default_per_class(10, mnist.labels)
    start = time.perf_counter()
    synmnist_arrays(10, counts, mnist=mnist, seed=0)
    synthesis = time.perf_counter() - start
    start = time.perf_counter()
    teacher = train_teacher(10, mnist=mnist, seed=0, progress=False, device=device, cache_dir=None)
    total = time.perf_counter() - start
    train = load_thucnews(data / "thucnews")["train"]
    start = time.perf_counter()
    column = add_teacher_logits(train, teacher, mnist=mnist)
    column_seconds = time.perf_counter() - start
    assert len(column) == len(train)
    return {"synthesis_seconds": synthesis, "training_seconds": teacher.config.train_seconds,
            "train_teacher_seconds": total, "column_seconds": column_seconds, "column_rows": len(train),
            "column_rows_per_second": len(train) / column_seconds, "device": str(next(teacher.model.parameters()).device),
            "teacher_test_accuracy": teacher.config.test_accuracy}


def step_ratio(steps: int, batch_size: int, processes: int, keep_memory: bool) -> dict:
    measured = step_ratios_over_processes(["trainer", "lwkd"], steps, batch_size, processes,
                                          use_cpu=not torch.cuda.is_available(), keep_memory=keep_memory)
    runs, ratio = measured["median_step_seconds_per_process"], measured["ratio"]["lwkd"]
    return {"ratio": ratio["mean"], "ci95": ratio["ci95"], "ratios_per_process": ratio["per_process"],
            "median_step_ms": {k: 1000 * statistics.mean(run[k] for run in runs) for k in runs[0]},
            "processes": processes, "steps_timed_per_process": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=os.environ.get("LWKD_DATA_DIR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--epochs", type=float, default=5, help="student epochs of the main job (README: 5)")
    parser.add_argument("--device", help="teacher device (default: the GPU when there is one)")
    parser.add_argument("--steps", type=int, default=150, help="timed training steps of each trainer for (c), per process")
    parser.add_argument("--step-processes", type=int, default=5, help="fresh processes (c)'s ratio is averaged over")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of (lwkd cold, lwkd warm, sup) after a first sup")
    parser.add_argument("--skip-runs", action="store_true", help="only (b)-(d): no whole runs")
    parser.add_argument("--glibc-defaults", action="store_true",
                        help="leave glibc's malloc settings everywhere (the example: --keep_freed_memory false)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.step_processes < 2:
        parser.error(f"--step-processes must be at least 2 for an interval, got {args.step_processes}")
    data = Path(args.data_root)
    keep_memory = not args.glibc_defaults and keep_freed_memory()  # (b) runs in this process
    result = {"machine": machine(), "command": " ".join(["python", *sys.argv]), "epochs": args.epochs,
              "repeats": args.repeats, "keep_freed_memory": keep_memory}
    print(f"machine: {result['machine']}; memory freed is {'kept' if keep_memory else 'handed back'}", flush=True)

    def record() -> None:  # after every part, so a run cut short keeps what it measured
        if args.output:
            atomic_write_json(args.output, result)

    if not args.skip_runs:
        plan = [("sup", "sup", 0)]
        for i in range(args.repeats):
            plan += [("lwkd", "lwkd cold cache", i), ("lwkd", "lwkd warm cache", i), ("sup", "sup", i + 1)]
        runs = result["runs"] = []
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for i, (method, label, round_) in enumerate(plan):
                run = main_job(data, method, tmp / f"run{i}", tmp / f"cache{round_}", args.epochs,
                               keep_memory) | {"label": label}
                runs.append(run)
                print(f"  {label:16s} {run['wall_seconds']:7.1f} s whole run, {run['train_runtime']:7.1f} s training, "
                      f"test accuracy {100 * run['test_accuracy']:.2f} %, {run['minor_page_faults'] / 1e6:.2f} M page "
                      "faults", flush=True)
                record()
        sups = [r["wall_seconds"] for r in runs if r["label"] == "sup"]
        for kind in ("cold", "warm"):
            walls = [r["wall_seconds"] for r in runs if r["label"] == f"lwkd {kind} cache"]
            ratios = [wall / statistics.mean(sups[i : i + 2]) for i, wall in enumerate(walls)]
            result[f"ratios_{kind}"] = ratios
            result[f"ratio_{kind}"] = statistics.mean(ratios)
        print(f"(a) whole run LW-KD / sup (mean over {args.repeats} rounds, each against the sups either side): cold "
              f"cache {result['ratio_cold']:.3f} ({min(result['ratios_cold']):.3f}-{max(result['ratios_cold']):.3f}), "
              f"warm cache {result['ratio_warm']:.3f} ({min(result['ratios_warm']):.3f}-{max(result['ratios_warm']):.3f})")
        record()

    stage = teacher_stage(data, args.device)
    result["teacher_stage"] = stage
    print(f"(b) teacher stage on {stage['device']}: synthesis {stage['synthesis_seconds']:.1f} s, training "
          f"{stage['training_seconds']:.1f} s (train_teacher in all {stage['train_teacher_seconds']:.1f} s), column "
          f"{stage['column_seconds']:.1f} s")
    print(f"(d) teacher column: {stage['column_rows_per_second']:,.0f} rows/s ({stage['column_rows']:,} rows)")
    record()
    steps = step_ratio(args.steps, 128, args.step_processes, keep_memory)
    result["step"] = steps
    print(f"(c) training step LWKDTrainer(beta=0.1) / Trainer: {steps['ratio']:.4f} [{steps['ci95'][0]:.4f}, "
          f"{steps['ci95'][1]:.4f}] (mean of {args.step_processes} processes' median ratios, 95 % CI; each "
          f"{', '.join(f'{r:.3f}' for r in steps['ratios_per_process'])}; "
          f"{steps['median_step_ms']['lwkd']:.1f} / {steps['median_step_ms']['trainer']:.1f} ms)")
    record()


if __name__ == "__main__":
    main()
