"""Reproduce paper Table 2 (lightweight teachers T1-T4): train LeNet5 on MNIST / SynMNIST-K.

    python benchmarks/teacher_table.py --output teacher_table.json --plot teacher_table.png

Accuracy is measured on SynMNIST built from MNIST *test* digits (for K=10: the full MNIST test set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from lwkd_hf.atomic import atomic_path, atomic_write_json, atomic_write_text
from lwkd_hf.synthesis import load_mnist, synmnist_arrays
from lwkd_hf.teacher_training import train_teacher

REPO_ROOT = Path(__file__).resolve().parents[1]

# name -> (K, examples per class, epochs, paper accuracy %), paper Table 2
ROWS = {
    "T1": (10, 6000, 10, 98.80),
    "T2": (15, 5000, 10, 98.46),
    "T3": (100, 600, 10, 97.22),
    "T4": (101, 1000, 2, 84.81),
}


def default_mnist_dir() -> Path:
    data = os.environ.get("LWKD_DATA_DIR")
    return Path(data) / "mnist" if data else REPO_ROOT.parent / "shared" / "data" / "mnist"


def run_row(name: str, mnist, seed: int, threads: int | None, progress: bool) -> dict:
    k, per_class, epochs, paper = ROWS[name]
    start = time.perf_counter()
    synmnist_arrays(k, per_class, mnist=mnist, seed=seed)  # timed on its own; train_teacher rebuilds it
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    teacher = train_teacher(
        k, per_class, mnist=mnist, epochs=epochs, seed=seed, progress=progress, num_threads=threads, cache_dir=None
    )
    config = teacher.config
    return {
        "name": name,
        "num_classes": k,
        "examples": sum(config.per_class),
        "epochs": epochs,
        "test_examples": config.test_examples,
        "accuracy": 100 * config.test_accuracy,
        "paper_accuracy": paper,
        "build_seconds": build_seconds,
        "train_seconds": config.train_seconds,
        "total_seconds": time.perf_counter() - start,
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "threads": threads or torch.get_num_threads(),
    }


def markdown(results: list[dict]) -> str:
    lines = [
        "| teacher | K | examples | epochs | test examples | accuracy % | build s | train s | paper accuracy % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['num_classes']} | {r['examples']:,} | {r['epochs']} | {r['test_examples']:,} | "
            f"{r['accuracy']:.2f} | {r['build_seconds']:.1f} | {r['train_seconds']:.1f} | {r['paper_accuracy']:.2f} |"
        )
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(x - 0.2, [r["accuracy"] for r in results], 0.4, label="ours")
    ax.bar(x + 0.2, [r["paper_accuracy"] for r in results], 0.4, label="paper (Table 2)")
    ax.set_xticks(x, [f"{r['name']}\nK={r['num_classes']}" for r in results])
    ax.set_ylabel("test accuracy %")
    ax.set_ylim(min(min(r["accuracy"], r["paper_accuracy"]) for r in results) - 5, 100)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", type=Path, default=default_mnist_dir(), help="folder with the MNIST IDX files")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="which teachers to train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write results here (.json, otherwise markdown)")
    parser.add_argument("--plot", type=Path, help="write a PNG bar chart of ours vs paper accuracy")
    parser.add_argument(
        "--threads", type=int, help="torch intra-op threads (default: torch's); 1 is far faster on a busy machine"
    )
    parser.add_argument("--progress", action="store_true", help="show training progress bars")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    mnist = load_mnist(args.mnist_dir, "train")
    results = []
    for name in args.rows:
        results.append(run_row(name, mnist, args.seed, args.threads, args.progress))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    table = markdown(results)
    print(table)
    print(f"\ntotal wall time: {time.perf_counter() - start:.1f} s")
    if args.output:
        if args.output.suffix == ".json":
            atomic_write_json(args.output, results)
        else:
            atomic_write_text(args.output, table + "\n")
    if args.plot:
        plot(results, args.plot)
    return results


if __name__ == "__main__":
    main()
