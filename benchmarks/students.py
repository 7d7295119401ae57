#!/usr/bin/env python
"""Each text student with ``sup`` and ``lwkd`` on THUCNews, one after another on this machine.

Runs ``lwkd train`` (Tencent character vectors, its defaults otherwise) for every student and method, one
process at a time so that the times compare, times each process, skips runs that already finished, and prints a
markdown table of test accuracy, wall time and parameter count (also written as JSON).

    python benchmarks/students.py --data-root ../shared/data --output-dir outputs/students
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from costs import count_parameters
from transformers import AutoConfig, AutoModelForSequenceClassification

import lwkd_hf  # noqa: F401  (registers the students)
from lwkd_hf.atomic import atomic_write_json
STUDENTS = ["textcnn", "textrcnn", "dpcnn", "fasttext", "bert"]


def run_once(run_dir: Path, argv: list[str]) -> float:
    """``lwkd train ARGV`` in its own process (output in ``run.log``), unless ``run_dir`` holds a finished run; its
    wall seconds, kept in ``wall_seconds.json``."""
    timing = run_dir / "wall_seconds.json"
    if not timing.is_file():
        run_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(run_dir / "run.log", "w") as log:
            subprocess.run([sys.executable, "-m", "lwkd_hf.cli", "train", *argv], stdout=log, stderr=subprocess.STDOUT,
                           check=True)
        atomic_write_json(timing, {"wall_seconds": time.perf_counter() - start})
    return json.loads(timing.read_text())["wall_seconds"]


def example_args(args: argparse.Namespace, student: str, method: str) -> list[str]:
    """``lwkd train``'s arguments for one run, without ``--output_dir``."""
    data = Path(args.data_root)
    argv = [
        "--dataset", "thucnews", "--data_dir", str(data / "thucnews"),
        "--model", student, "--method", method, "--disable_tqdm", "true",
        "--vocab_file", str(data / "thucnews" / "vocab.json"), "--mnist_dir", str(data / "mnist"),
        "--num_train_epochs", str(args.epochs.get(student, args.default_epochs)),
    ]
    if student != "bert":
        argv += ["--embeddings_file", str(data / "thucnews" / "embedding_Tencent.npz")]
    return argv + args.extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=os.environ.get("LWKD_DATA_DIR"), required="LWKD_DATA_DIR" not in os.environ)
    parser.add_argument("--output-dir", default="outputs/students")
    parser.add_argument("--students", nargs="+", default=STUDENTS, choices=STUDENTS)
    parser.add_argument("--methods", nargs="+", default=["sup", "lwkd"])
    parser.add_argument("--default-epochs", type=int, default=5)
    parser.add_argument("--epochs", nargs="*", default=[], metavar="STUDENT=N", help="per-student epochs, e.g. fasttext=1")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more arguments for every run")
    args = parser.parse_args()
    args.epochs = {k: int(v) for k, v in (item.split("=") for item in args.epochs)}

    out = Path(args.output_dir)
    rows = []
    for student in args.students:
        for method in args.methods:
            run_dir = out / f"thucnews-{student}-{method}"
            argv = example_args(args, student, method) + ["--output_dir", str(run_dir)]
            print(f"[{time.strftime('%H:%M:%S')}] {' '.join(argv)}", flush=True)
            wall = run_once(run_dir, argv)
            metrics = json.loads((run_dir / "all_results.json").read_text())
            with torch.device("meta"):
                model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(run_dir))
            teacher = run_dir / "teacher" / "config.json"
            rows.append({
                "student": student, "method": method, "epochs": args.epochs.get(student, args.default_epochs),
                "parameters": count_parameters(model),
                "test_accuracy": metrics["test_accuracy"], "train_runtime": metrics["train_runtime"],
                "wall_seconds": wall,
                "teacher_train_seconds": json.loads(teacher.read_text())["train_seconds"] if teacher.is_file() else None,
                "command": shlex.join(["lwkd", "train", *argv]),
            })
    atomic_write_json(out / "students.json", rows)
    print("| student | #params | method | epochs | test accuracy % | training (s) | whole run (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['student']} | {r['parameters']:,} | {r['method']} | {r['epochs']} | {100 * r['test_accuracy']:.2f} | "
              f"{r['train_runtime']:.0f} | {r['wall_seconds']:.0f} |")


if __name__ == "__main__":
    main()
