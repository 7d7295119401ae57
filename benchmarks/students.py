#!/usr/bin/env python
"""Each text student with ``sup`` and ``lwkd`` on THUCNews, one after another on this machine.

Runs ``examples/run_text_classification.py`` (Tencent character vectors, the script's defaults otherwise)
for every student and method, times each process, skips runs that already finished, and prints a
markdown table of test accuracy, wall time and parameter count (also written as JSON).

    python benchmarks/students.py --data-root ../shared/data --output-dir outputs/students
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lwkd_hf.atomic import atomic_write_json  # noqa: E402

SCRIPT = REPO / "examples" / "run_text_classification.py"
STUDENTS = ["textcnn", "textrcnn", "dpcnn", "fasttext", "bert"]


def command(args: argparse.Namespace, student: str, method: str, output_dir: Path) -> list[str]:
    data = Path(args.data_root)
    argv = [
        sys.executable, str(SCRIPT), "--dataset", "thucnews", "--data_dir", str(data / "thucnews"),
        "--model", student, "--method", method, "--output_dir", str(output_dir), "--disable_tqdm", "true",
        "--vocab_file", str(data / "thucnews" / "vocab.json"), "--mnist_dir", str(data / "mnist"),
        "--num_train_epochs", str(args.epochs.get(student, args.default_epochs)),
    ]
    if student != "bert":
        argv += ["--embeddings_file", str(data / "thucnews" / "embedding_Tencent.npz")]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=os.environ.get("LWKD_DATA_DIR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--output-dir", default="outputs/students")
    parser.add_argument("--students", nargs="+", default=STUDENTS, choices=STUDENTS)
    parser.add_argument("--methods", nargs="+", default=["sup", "lwkd"])
    parser.add_argument("--default-epochs", type=int, default=5)
    parser.add_argument("--epochs", nargs="*", default=[], metavar="STUDENT=N", help="per-student epochs, e.g. fasttext=1")
    args = parser.parse_args()
    args.epochs = {k: int(v) for k, v in (item.split("=") for item in args.epochs)}

    out = Path(args.output_dir)
    rows = []
    for student in args.students:
        for method in args.methods:
            run_dir = out / f"thucnews-{student}-{method}"
            argv = command(args, student, method, run_dir)
            timing = run_dir / "wall_seconds.json"
            if not timing.is_file():
                run_dir.mkdir(parents=True, exist_ok=True)
                print(f"[{time.strftime('%H:%M:%S')}] {' '.join(argv[1:])}", flush=True)
                start = time.perf_counter()
                with open(run_dir / "run.log", "w") as log:
                    subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, check=True)
                atomic_write_json(timing, {"wall_seconds": time.perf_counter() - start})
            metrics = json.loads((run_dir / "all_results.json").read_text())
            from transformers import AutoConfig, AutoModelForSequenceClassification

            import lwkd_hf  # noqa: F401  (registers the students)

            with __import__("torch").device("meta"):
                model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(run_dir))
            teacher = run_dir / "teacher" / "config.json"
            rows.append({
                "student": student, "method": method, "epochs": args.epochs.get(student, args.default_epochs),
                "parameters": sum(p.numel() for p in model.parameters()),
                "test_accuracy": metrics["test_accuracy"], "train_runtime": metrics["train_runtime"],
                "wall_seconds": json.loads(timing.read_text())["wall_seconds"],
                "teacher_train_seconds": json.loads(teacher.read_text())["train_seconds"] if teacher.is_file() else None,
                "command": " ".join(["python", *[str(Path(a).relative_to(REPO)) if a.startswith(str(REPO)) else a
                                                 for a in argv[1:]]]),
            })
    atomic_write_json(out / "students.json", rows)
    print("| student | #params | method | epochs | test accuracy % | training (s) | whole run (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['student']} | {r['parameters']:,} | {r['method']} | {r['epochs']} | {100 * r['test_accuracy']:.2f} | "
              f"{r['train_runtime']:.0f} | {r['wall_seconds']:.0f} |")


if __name__ == "__main__":
    main()
