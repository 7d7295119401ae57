#!/usr/bin/env python
"""Reproduce the paper's text experiments: methods x students x seeds on THUCNews and ToutiaoNews.

Each run is ``examples/run_text_classification.py`` in its own process (``--jobs`` at once); a run whose
``all_results.json`` exists is skipped, so a half-finished matrix resumes where it stopped. Then it
writes, under ``--output-dir``:

- ``results.csv`` / ``results.json``: one row per run (test accuracy, best dev accuracy, wall seconds);
- ``table4.md``: mean +- std over seeds per student x dataset x method, the paper's Table 4 beside it,
  and LW-KD against each baseline with a paired t-test over seeds;
- ``table7.md``: the ablations (w/o ADV, w/o KL, w/o SYN) like Table 7;
- ``table8.md``: parameters and FLOPs per instance (LeNet5, discriminator, students, KD teacher) and the
  measured wall time of the LW-KD teacher stage against training the KD teacher, and LW-KD against sup;
- ``fig4.png``: dev accuracy per epoch per method (mean over seeds), one panel per student x dataset.

    python benchmarks/reproduce.py --data-root ../shared/data --output-dir results --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from lwkd_hf.atomic import atomic_path, atomic_write_json, atomic_write_text
from lwkd_hf.methods import ABLATIONS, BASELINES, METHODS

REPO = Path(__file__).resolve().parents[1]

SCRIPT = REPO / "examples" / "run_text_classification.py"
DATASET_FOLDERS = {"thucnews": "thucnews", "toutiao": "toutiao"}
# K of each dataset; its Table 2 teacher: T1 (MNIST, 10 x 6000) for THUCNews, T2 (SynMNIST-15, 15 x 5000) for Toutiao
NUM_CLASSES = {"thucnews": 10, "toutiao": 15}
# a LeNet5-sized text classifier (~60K parameters) trained on the target data: the "w/o SYN" teacher
LIGHT_TEACHER = ["--model", "fasttext", "--config_overrides", "embedding_dim=12,hidden_size=16,ngram_buckets=16"]
PAPER_TABLE4 = {  # (student, dataset) -> method -> accuracy %
    ("textcnn", "thucnews"): {"sup": 90.58, "lsr": 91.33, "tfkd": 91.38, "kd": 91.78, "lwkd": 91.82},
    ("textcnn", "toutiao"): {"sup": 85.93, "lsr": 86.23, "tfkd": 86.04, "kd": 86.32, "lwkd": 86.65},
    ("textrcnn", "thucnews"): {"sup": 91.11, "lsr": 91.51, "tfkd": 91.31, "kd": 91.60, "lwkd": 91.86},
    ("textrcnn", "toutiao"): {"sup": 84.89, "lsr": 85.36, "tfkd": 85.02, "kd": 85.80, "lwkd": 85.86},
    ("dpcnn", "thucnews"): {"sup": 91.07, "lsr": 91.29, "tfkd": 90.66, "kd": 91.51, "lwkd": 91.60},
    ("dpcnn", "toutiao"): {"sup": 84.45, "lsr": 84.56, "tfkd": 84.52, "kd": 85.35, "lwkd": 85.02},
    ("fasttext", "thucnews"): {"sup": 92.32, "lsr": 92.66, "tfkd": 92.33, "kd": 92.47, "lwkd": 92.78},
    ("fasttext", "toutiao"): {"sup": 86.51, "lsr": 87.21, "tfkd": 86.79, "kd": 87.62, "lwkd": 87.46},
    ("bert", "thucnews"): {"sup": 94.59, "lsr": 94.63, "tfkd": 94.37, "kd": 94.77, "lwkd": 94.83},
    ("bert", "toutiao"): {"sup": 89.29, "lsr": 89.42, "tfkd": 89.36, "kd": 89.64, "lwkd": 89.77},
}
PAPER_TABLE7 = {
    ("textrcnn", "thucnews"): {"lwkd": 91.86, "lwkd-no-adv": 91.48, "lwkd-no-kl": 91.53},
    ("textcnn", "toutiao"): {"lwkd": 86.65, "lwkd-no-adv": 86.28, "lwkd-no-kl": 86.42},
}


@dataclass
class Record:
    dataset: str
    student: str
    method: str
    seed: int
    test_accuracy: float
    test_macro_f1: float
    best_eval_accuracy: float
    eval_accuracy_per_epoch: list
    train_runtime: float
    wall_seconds: float


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Matrix:
    """The runs of one invocation, their shared teachers, and where everything goes."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.output_dir)
        self.data_root = Path(args.data_root)

    def common_args(self, dataset: str, seed: int) -> list[str]:
        thucnews = self.data_root / "thucnews"
        args = [
            "--dataset", dataset, "--data_dir", str(self.data_root / DATASET_FOLDERS[dataset]),
            "--seed", str(seed), "--num_train_epochs", str(self.args.epochs), "--report_to", "none",
            "--disable_tqdm", "true", "--logging_steps", "100", "--save_total_limit", "1",
            "--per_device_train_batch_size", str(self.args.batch_size), "--lr_scheduler_type", self.args.lr_scheduler,
        ]
        if self.args.pretrained_embeddings:
            args += ["--vocab_file", str(thucnews / "vocab.json"), "--embeddings_file", str(thucnews / "embedding_Tencent.npz")]
        for flag, value in (("--max_train_samples", self.args.max_train_samples),
                            ("--max_eval_samples", self.args.max_eval_samples),
                            ("--max_predict_samples", self.args.max_eval_samples)):
            if value:
                args += [flag, str(value)]
        return args + self.args.extra

    def teacher_dir(self, dataset: str, seed: int) -> Path:
        return self.out / "teachers" / f"{dataset}-seed{seed}"

    def lightweight_teacher_job(self, dataset: str, seed: int) -> tuple[Path, list[str]]:
        """``lwkd teacher`` with Table 2's settings for the dataset's K (timed like every run)."""
        argv = ["--num-classes", str(NUM_CLASSES[dataset]), "--epochs", str(self.args.teacher_epochs),
                "--mnist-dir", str(self.data_root / "mnist"), "--seed", str(seed), "--overwrite"]
        if self.args.teacher_per_class:  # else lwkd teacher's default, Table 2's set (T1: MNIST's own digits)
            argv += ["--per-class", str(self.args.teacher_per_class)]
        return self.teacher_dir(dataset, seed), ["-m", "lwkd_hf.cli", "teacher", *argv]

    def kd_teacher_dir(self, dataset: str) -> Path:
        return self.out / "kd_teachers" / dataset

    def light_teacher_dir(self, dataset: str) -> Path:
        return self.out / "light_teachers" / dataset

    def run_dir(self, dataset: str, student: str, method: str, seed: int) -> Path:
        return self.out / "runs" / dataset / student / method / f"seed{seed}"

    def method_args(self, dataset: str, method: str, seed: int) -> list[str]:
        """The teacher a method's column needs (``METHODS[method].soft_targets``)."""
        kind = METHODS[method].soft_targets
        if kind == "lightweight":
            return ["--teacher_dir", str(self.teacher_dir(dataset, seed)), "--mnist_dir", str(self.data_root / "mnist")]
        if kind in ("model", "model-shuffled"):
            return ["--kd_teacher_dir", str(self.kd_teacher_dir(dataset))]
        if kind == "model-shifted":
            return ["--kd_teacher_dir", str(self.light_teacher_dir(dataset))]
        return []

    def prerequisites(self) -> list[tuple[Path, list[str]]]:
        """LW-KD teachers per dataset and seed; the KD and w/o-SYN teachers of each dataset (seed 0, supervised)."""
        jobs = []
        for dataset in self.args.datasets:
            kinds = {METHODS[m].soft_targets for m in self.args.methods}
            if "lightweight" in kinds:
                jobs += [self.lightweight_teacher_job(dataset, seed) for seed in self.args.seeds]
            if kinds & {"model", "model-shuffled"}:
                jobs.append((self.kd_teacher_dir(dataset),
                             self.common_args(dataset, 0) + ["--model", self.args.kd_teacher, "--method", "sup"]))
            if "model-shifted" in kinds:
                light = without_option(self.common_args(dataset, 0), "--embeddings_file")  # 12-d, not 200-d
                jobs.append((self.light_teacher_dir(dataset), light + ["--method", "sup"] + LIGHT_TEACHER))
        return jobs

    def pairs(self) -> list[tuple[str, str]]:
        """(dataset, student) pairs in run order: ``--pairs``, else datasets x students."""
        if self.args.pairs:
            return [tuple(pair.split(":")) for pair in self.args.pairs]
        return [(d, s) for d in self.args.datasets for s in self.args.students]

    def runs(self) -> list[tuple[Path, list[str]]]:
        """Seed-major within each pair, so a matrix cut short still has every method on the first seeds."""
        return [
            (self.run_dir(d, s, m, seed),
             self.common_args(d, seed) + ["--model", s, "--method", m] + self.method_args(d, m, seed))
            for d, s in self.pairs() for seed in self.args.seeds for m in self.args.methods
        ]

    def execute(self, jobs: list[tuple[Path, list[str]]], what: str) -> None:
        pending = [job for job in jobs if not finished(job[0])]
        log(f"{what}: {len(jobs) - len(pending)} done, {len(pending)} to run with {self.args.jobs} at once")
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover
            tqdm = None
        progress = tqdm(total=len(pending), desc=what) if tqdm else None
        with ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
            for directory, wall in zip([job[0] for job in pending], pool.map(lambda job: run_example(*job), pending)):
                if progress:
                    progress.update(1)
                log(f"finished {directory.relative_to(self.out)} in {wall:.0f}s")
        if progress:
            progress.close()


def run_example(output_dir: Path, argv: list[str]) -> float | None:
    """Run the example script (or, for ``-m`` commands, that module) into ``output_dir`` unless it finished.

    Returns the wall seconds, or None for a run found finished.
    """
    if finished(output_dir):
        return None
    if output_dir.exists():
        shutil.rmtree(output_dir)  # an interrupted run starts again
    log_dir = output_dir.parent / f".{output_dir.name}.log"
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    command = argv + ["--output", str(output_dir)] if argv[0] == "-m" else [str(SCRIPT), *argv, "--output_dir", str(output_dir)]
    start = time.perf_counter()
    with open(log_dir, "w") as log_file:
        completed = subprocess.run([sys.executable, *command], stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"run failed ({completed.returncode}): see {log_dir}")
    shutil.move(log_dir, output_dir / "run.log")
    atomic_write_json(output_dir / "wall_seconds.json", {"wall_seconds": wall})  # the "finished" marker
    return wall


def finished(output_dir: Path) -> bool:
    """A run left its metrics, a teacher its config, and both their wall time."""
    return (output_dir / "wall_seconds.json").is_file()


def without_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value."""
    if option not in argv:
        return argv
    i = argv.index(option)
    return argv[:i] + argv[i + 2 :]


def read_record(directory: Path, dataset: str, student: str, method: str, seed: int) -> Record | None:
    results = directory / "all_results.json"
    if not results.is_file():
        return None
    metrics = json.loads(results.read_text())
    state = json.loads((directory / "trainer_state.json").read_text())
    per_epoch = [log["eval_accuracy"] for log in state["log_history"] if "eval_accuracy" in log and "epoch" in log]
    per_epoch = per_epoch[: int(round(state.get("num_train_epochs", len(per_epoch))))]
    wall_file = directory / "wall_seconds.json"
    return Record(
        dataset, student, method, seed,
        test_accuracy=metrics["test_accuracy"], test_macro_f1=metrics.get("test_macro_f1", float("nan")),
        best_eval_accuracy=max(per_epoch) if per_epoch else float("nan"), eval_accuracy_per_epoch=per_epoch,
        train_runtime=metrics.get("train_runtime", float("nan")),
        wall_seconds=json.loads(wall_file.read_text())["wall_seconds"] if wall_file.is_file() else float("nan"),
    )


def mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f} (n={len(values)})"


def by_cell(records: list[Record]) -> dict[tuple[str, str, str], dict[int, float]]:
    cells: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in records:
        cells.setdefault((r.student, r.dataset, r.method), {})[r.seed] = r.test_accuracy
    return cells


def paired_test(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, int]:
    """Mean difference a - b (points) and the two-sided paired t-test p over the seeds both have."""
    from scipy.stats import ttest_rel

    seeds = sorted(set(a) & set(b))
    diff = 100 * statistics.mean(a[s] - b[s] for s in seeds) if seeds else float("nan")
    p = float(ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue) if len(seeds) > 1 else float("nan")
    return diff, p, len(seeds)


def table4(records: list[Record], methods: list[str]) -> str:
    cells = by_cell(records)
    pairs = sorted({(r.student, r.dataset) for r in records})
    shown = [m for m in (*BASELINES, "lwkd") if m in methods]
    lines = ["| student | dataset | " + " | ".join(shown) + " |", "|---" * (len(shown) + 2) + "|"]
    for student, dataset in pairs:
        lines.append(f"| {student} | {dataset} | " + " | ".join(
            mean_std(list(cells.get((student, dataset, m), {}).values())) for m in shown) + " |")
        paper = PAPER_TABLE4.get((student, dataset), {})
        lines.append("| | paper | " + " | ".join(f"{paper[m]:.2f}" if m in paper else "–" for m in shown) + " |")
    lines += ["", "LW-KD minus each baseline (test accuracy points, mean over paired seeds; two-sided paired t-test):", "",
              "| student | dataset | baseline | LW-KD − baseline | p | seeds |", "|---|---|---|---|---|---|"]
    for student, dataset in pairs:
        ours = cells.get((student, dataset, "lwkd"), {})
        for baseline in [m for m in BASELINES if m in methods]:
            diff, p, n = paired_test(ours, cells.get((student, dataset, baseline), {}))
            lines.append(f"| {student} | {dataset} | {baseline} | {diff:+.2f} | {p:.3f} | {n} |")
    return "\n".join(lines) + "\n"


def table7(records: list[Record], methods: list[str]) -> str:
    cells = by_cell(records)
    shown = [m for m in ["lwkd", *ABLATIONS] if m in methods]
    lines = ["| student | dataset | " + " | ".join(shown) + " |", "|---" * (len(shown) + 2) + "|"]
    for student, dataset in sorted({(r.student, r.dataset) for r in records}):
        lines.append(f"| {student} | {dataset} | " + " | ".join(
            mean_std(list(cells.get((student, dataset, m), {}).values())) for m in shown) + " |")
        paper = PAPER_TABLE7.get((student, dataset))
        if paper:
            lines.append("| | paper | " + " | ".join(f"{paper[m]:.2f}" if m in paper else "–" for m in shown) + " |")
    return "\n".join(lines) + "\n"


def table8(matrix: Matrix, records: list[Record]) -> str:
    from costs import teacher_rows, text_model_rows

    rows = [row for k in sorted({NUM_CLASSES[d] for d in matrix.args.datasets}) for row in teacher_rows(k)]
    names = sorted(set(matrix.args.students) | {matrix.args.kd_teacher})
    rows += [(f"{name} (KD teacher)" if name == matrix.args.kd_teacher else name, params, flops)
             for name, params, flops in text_model_rows(names, 4762, 10, 32, embedding_dim=200)]
    lines = ["| model | #params | FLOPs per instance |", "|---|---|---|"]
    lines += [f"| {name} | {params:,} | {flops:,} |" for name, params, flops in rows]
    lines += ["", "Students with the 200-d Tencent vectors over the 4,762-character vocabulary, 10 labels, 32 tokens; "
              "FLOPs = 2 x multiply-adds.", "",
              "Measured wall time where the runs ran (each run's wall_seconds.json: process start to exit, "
              "teachers by `lwkd teacher` on the CPU, students and the KD teacher on the accelerator if any):", "",
              "| dataset | student | LW-KD teacher stage (s) | KD teacher training (s) | stage / KD | sup run (s) | "
              "LW-KD run (s) | LW-KD total / sup |", "|---|---|---|---|---|---|---|---|"]
    for dataset, student in matrix.pairs():
        stages = [json.loads(p.read_text())["wall_seconds"]
                  for p in (matrix.out / "teachers").glob(f"{dataset}-seed*/wall_seconds.json")]
        kd_wall = matrix.kd_teacher_dir(dataset) / "wall_seconds.json"
        kd = json.loads(kd_wall.read_text())["wall_seconds"] if kd_wall.is_file() else float("nan")
        stage = statistics.mean(stages) if stages else float("nan")
        walls = {m: [r.wall_seconds for r in records if (r.dataset, r.student, r.method) == (dataset, student, m)]
                 for m in ("sup", "lwkd")}
        sup, lwkd = (statistics.mean(w) if w else float("nan") for w in (walls["sup"], walls["lwkd"]))
        lines.append(f"| {dataset} | {student} | {stage:.0f} | {kd:.0f} | {stage / kd:.2f} | {sup:.0f} | {lwkd:.0f} | "
                     f"{(stage + lwkd) / sup:.2f} |")
    return "\n".join(lines) + "\n"


def plot_curves(records: list[Record], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = sorted({(r.student, r.dataset) for r in records})
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4), squeeze=False)
    for ax, (student, dataset) in zip(axes[0], pairs):
        for method in METHODS:
            curves = [r.eval_accuracy_per_epoch for r in records
                      if (r.student, r.dataset, r.method) == (student, dataset, method) and r.eval_accuracy_per_epoch]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            mean = [100 * statistics.mean(c[i] for c in curves) for i in range(length)]
            ax.plot(range(1, length + 1), mean, marker="o", label=method, linewidth=2.2 if method == "lwkd" else 1.0)
        ax.set_title(f"{student} on {dataset}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def report(matrix: Matrix) -> None:
    args = matrix.args
    records = []
    for results in sorted((matrix.out / "runs").glob("*/*/*/seed*/all_results.json")):
        dataset, student, method, seed = results.parent.relative_to(matrix.out / "runs").parts
        records.append(read_record(results.parent, dataset, student, method, int(seed.removeprefix("seed"))))
    out = matrix.out
    atomic_write_json(out / "results.json", [asdict(r) for r in records])
    with atomic_path(out / "results.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        names = [name for name in Record.__dataclass_fields__ if name != "eval_accuracy_per_epoch"]
        writer.writerow(names)
        for r in records:
            writer.writerow([getattr(r, name) for name in names])
    atomic_write_text(out / "table4.md", table4(records, args.methods))
    atomic_write_text(out / "table7.md", table7(records, args.methods))
    atomic_write_text(out / "table8.md", table8(matrix, records))
    if records:
        plot_curves(records, out / "fig4.png")
    print((out / "table4.md").read_text())
    print((out / "table7.md").read_text())
    print((out / "table8.md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=os.environ.get("LWKD_DATA_DIR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--output-dir", default="results")
    parser.add_argument("--datasets", nargs="+", default=["thucnews", "toutiao"], choices=list(DATASET_FOLDERS))
    parser.add_argument("--students", nargs="+", default=["textcnn", "dpcnn"])
    parser.add_argument("--pairs", nargs="+", metavar="DATASET:STUDENT",
                        help="run these pairs in this order instead of datasets x students")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr-scheduler", default="constant", help="student learning-rate schedule (recorded runs: constant)")
    parser.add_argument("--kd-teacher", default="textrcnn", help="student architecture trained (sup) as the KD teacher")
    parser.add_argument("--no-pretrained-embeddings", dest="pretrained_embeddings", action="store_false",
                        help="build the vocabulary from train and start from random vectors")
    parser.add_argument("--teacher-per-class", type=int,
                        help="SynMNIST examples per class (default: Table 2's; for K=10 the MNIST training set itself)")
    parser.add_argument("--teacher-epochs", type=int, default=10)
    parser.add_argument("--max-train-samples", type=int)
    parser.add_argument("--max-eval-samples", type=int)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (e.g. several on one GPU)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the tables and the plot")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more arguments for every run")
    args = parser.parse_args()

    if args.pairs:
        for pair in args.pairs:
            dataset, _, student = pair.partition(":")
            if dataset not in DATASET_FOLDERS or not student:
                parser.error(f"--pairs takes DATASET:STUDENT with DATASET in {list(DATASET_FOLDERS)}, got {pair!r}")
        args.datasets = list(dict.fromkeys(pair.split(":")[0] for pair in args.pairs))
        args.students = list(dict.fromkeys(pair.split(":")[1] for pair in args.pairs))
    matrix = Matrix(args)
    matrix.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        matrix.execute(matrix.prerequisites(), "teachers")
        matrix.execute(matrix.runs(), "runs")
    report(matrix)


if __name__ == "__main__":
    main()
