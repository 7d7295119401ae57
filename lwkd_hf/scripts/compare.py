"""``lwkd compare``: does LW-KD (or label smoothing, Tf-KD, KD) help on *your* data? Every method trained on the
same data over paired seeds, each (method, configuration, seed) one Ray Tune trial, then differences with 95 % t
intervals, Holm-adjusted p-values, calibration and a verdict.

    lwkd compare --train_file train.csv --validation_file dev.csv --test_file test.csv \\
        --model_name_or_path MODEL --mnist_dir MNIST_DIR --methods sup,lsr,tfkd,lwkd --seeds 5 --output_dir OUT

Every ``lwkd train`` argument applies to every run. Each run is ``lwkd train`` in its own Ray actor process (where
Ray is not installed, a plain process of its own), in ``OUT/runs/<phase>/<method>/<configuration>/seed<N>``; a
run that finished (``compare_run.json``) is never run again, so an interrupted comparison resumes where it
stopped, and a call with more seeds or methods adds only their runs. Writes ``comparison.md``, ``comparison.json`` and ``comparison.png`` in ``OUT``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shlex
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import HfArgumentParser

from .. import cli
from ..atomic import atomic_path, atomic_write_json, atomic_write_text
from ..comparison import MEASURES, PERCENT, summarize
from ..methods import get_method
from . import train
from .train import DataArguments, MethodArguments, ModelArguments, TrainScriptConfig, load_raw_data

#: Each method's settings at the paper's stated values (Sec. 4.2, 5.1.2; LSR's customary 0.1, Tf-KD's a = 0.9),
#: then five alternatives: the equal grid ``--tune`` searches (docs/results.md's study).
PAPER_SETTINGS = {
    "sup": {},
    "lsr": {"lsr_epsilon": 0.1},
    "tfkd": {"tfkd_correct_prob": 0.9, "alpha": 0.5, "temperature": 6, "kl_scaling": "none"},
    "kd": {"alpha": 0.5, "temperature": 6, "kl_scaling": "none"},
    "lwkd": {"alpha": 0.5, "temperature": 6, "kl_scaling": "none", "beta": 0.1, "discriminator_learning_rate": 0.1},
}
GRIDS = {
    "sup": [PAPER_SETTINGS["sup"]],
    "lsr": [{"lsr_epsilon": e} for e in (0.1, 0.05, 0.2, 0.3, 0.4, 0.5)],
    "tfkd": [PAPER_SETTINGS["tfkd"]] + [
        {"tfkd_correct_prob": a, "alpha": 0.5, "temperature": t, "kl_scaling": s}
        for a, t, s in [(0.99, 6, "none"), (0.9, 20, "none"), (0.9, 6, "tau2_over_k"), (0.9, 6, "tau2"),
                        (0.99, 20, "tau2")]
    ],
    "kd": [PAPER_SETTINGS["kd"]] + [
        {"alpha": a, "temperature": t, "kl_scaling": s}
        for a, t, s in [(0.9, 6, "none"), (0.5, 2, "none"), (0.5, 20, "none"), (0.5, 6, "tau2_over_k"),
                        (0.5, 6, "tau2")]
    ],
    "lwkd": [PAPER_SETTINGS["lwkd"]] + [
        {"alpha": 0.5, "temperature": t, "kl_scaling": s, "beta": b, "discriminator_learning_rate": 1e-3}
        for t, s, b in [(6, "none", 0.1), (6, "tau2_over_k", 0.1), (6, "tau2", 0.1), (2, "none", 0.1),
                        (6, "none", 0.01)]
    ],
}
SHORT = {"lsr_epsilon": "eps", "tfkd_correct_prob": "a", "alpha": "alpha", "temperature": "tau", "kl_scaling": "kl",
         "beta": "beta", "discriminator_learning_rate": "dlr"}
TUNING_SEED_BASE = 100  # tuning seeds 100, 101, ...: disjoint from the final seeds 0, 1, ...
FINISHED = "compare_run.json"


@dataclass
class CompareArguments:
    methods: str | None = field(
        default=None,
        metadata={"help": "Comma-separated methods (lwkd_hf.methods); default sup,lsr,tfkd,lwkd, and kd with "
                  "--kd_teacher_dir"},
    )
    seeds: int = field(default=5, metadata={"help": "Paired seeds per method: 0, 1, ..., N-1"})
    tune: bool = field(
        default=False,
        metadata={"help": "First tune each method on a dev grid (--grid, default: the study's six configurations "
                  "per method) over --tuning_seeds seeds 100, 101, ...; the best mean dev accuracy is run on the seeds"},
    )
    tuning_seeds: int = field(default=2, metadata={"help": "Seeds of the tuning runs"})
    grid: str | None = field(
        default=None, metadata={"help": "A JSON file {method: [settings, ...]} of lwkd train arguments to tune over"}
    )
    cpus_per_run: float | None = field(
        default=None, metadata={"help": "CPUs a run takes, which sets how many run at once (default: all of them)"}
    )
    gpus_per_run: float | None = field(default=None, metadata={"help": "GPUs a run takes (default: 1 where there is one)"})
    address: str | None = field(default=None, metadata={"help": "A Ray cluster to join (default: a local one)"})
    report_only: bool = field(
        default=False, metadata={"help": "Write the report from finished runs; run nothing (a run whose recorded "
                                 "arguments differ from what its command means today is reported, with a warning)"})

    def __post_init__(self):
        if self.seeds < 1 or self.tuning_seeds < 1:
            raise ValueError(f"--seeds and --tuning_seeds must be >= 1, got {self.seeds} and {self.tuning_seeds}")


def config_name(settings: dict) -> str:
    """``alpha0.5-tau6-klnone`` for a settings dict; ``default`` for none."""
    return "-".join(f"{SHORT.get(k, k)}{v}" for k, v in settings.items()) or "default"


def drop_options(argv: list[str], names: set[str]) -> list[str]:
    """``argv`` without the options ``--name`` (and their values) for ``name`` in ``names``."""
    kept, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if name in names:
            skip = "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("--")
            continue
        kept.append(arg)
    return kept


def read_grid(path: str | None, methods: list[str]) -> dict[str, list[dict]]:
    """The tuning grid of ``methods``: ``--grid``'s JSON or ``GRIDS``; a method without one runs its default."""
    if path is None:
        return {m: GRIDS.get(m, [{}]) for m in methods}
    try:
        grid = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--grid {path}: not a readable JSON file ({err})") from err
    if not isinstance(grid, dict) or not all(isinstance(v, list) and all(isinstance(s, dict) for s in v)
                                             for v in grid.values()):
        raise ValueError(f"--grid {path}: expected {{method: [settings, ...]}}, got {json.dumps(grid)[:200]}")
    return {m: grid.get(m, [{}]) or [{}] for m in methods}


def settings_argv(settings: dict) -> list[str]:
    return [arg for key, value in settings.items() for arg in (f"--{key}", str(value))]


def run_dir(output_dir: Path, phase: str, method: str, settings: dict, seed: int) -> Path:
    return output_dir / "runs" / phase / method / config_name(settings) / f"seed{seed}"


def run_spec(phase: str, method: str, settings: dict, seed: int, directory: Path, argv: list[str], threads: float,
             program: str = "train") -> dict:
    """One run as ``run_all`` takes it: ``lwkd PROGRAM ARGV`` writing into ``directory`` (which ``argv`` names), its
    place in the plan, and the CPU threads it gets."""
    return {"phase": phase, "method": method, "settings": settings, "seed": seed, "dir": str(directory.resolve()),
            "argv": argv, "program": program, "threads": threads, "cwd": os.getcwd()}


def command(run: dict) -> str:
    return shlex.join(["lwkd", run["program"], *run["argv"]])


def run_one(config: dict) -> dict:
    """The run ``config`` (a ``run_spec``): ``lwkd PROGRAM`` into its folder (the output in ``run.log`` there)
    unless it finished before; returns its record (a run without ``all_results.json``, e.g. ``lwkd teacher``, has
    no metrics)."""
    os.chdir(config["cwd"])  # Ray Tune starts a trial in its own folder; relative paths are the caller's
    directory = Path(config["dir"])
    marker = directory / FINISHED
    if not marker.is_file():
        if directory.exists():
            shutil.rmtree(directory)  # an interrupted run starts again
        directory.mkdir(parents=True)
        torch.set_num_threads(max(1, int(config["threads"])))
        start = time.perf_counter()
        with open(directory / "run.log", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            try:
                cli.run([config["program"], *config["argv"]])
            except BaseException:
                traceback.print_exc()  # into run.log, which the failure message points to
                raise
        results = directory / "all_results.json"
        metrics = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
        atomic_write_json(marker, {key: config[key] for key in ("phase", "method", "settings", "seed")}
                          | {"metrics": metrics, "wall_seconds": time.perf_counter() - start, "command": command(config)})
    return json.loads(marker.read_text(encoding="utf-8"))


def run_training(trial: dict) -> dict:
    """Ray Tune's trainable: ``run_one(trial["run"])``, its metrics reported. Each trial is an actor process of its
    own, so an interrupted comparison stops its runs with it."""
    from ray import tune

    record = run_one(trial["run"])
    tune.report({k: v for k, v in record["metrics"].items() if isinstance(v, (int, float))})
    return record


def pool_slots(args: CompareArguments, threads: float, cores: int, gpus: int) -> int:
    """How many runs Ray would place at once on one machine of ``cores`` CPUs and ``gpus`` GPUs."""
    slots = math.floor(cores / max(threads, 1e-9) + 1e-9)
    if args.gpus_per_run:
        slots = min(slots, math.floor(gpus / args.gpus_per_run + 1e-9))
    return max(1, slots)


def run_in_pool(runs: list[dict], args: CompareArguments) -> None:
    """Without Ray (not installed, e.g. on a machine that reaches no package registry): each run ``run_one`` in a
    process of its own (a crash, or a setting such as ``keep_freed_memory`` that holds for a whole process, stays in
    its run), as many at once as Ray would place on this machine (``pool_slots``; slot i on GPU i mod #GPUs), with a
    progress bar. A failed run is named and the others go on; on an interrupt no run starts any more and those under
    way finish (a terminal's Ctrl-C reaches them too, and stops them)."""
    import subprocess
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from tqdm.auto import tqdm

    if args.address:
        raise ValueError("--address joins a Ray cluster, but Ray is not installed: pip install 'lwkd-hf[compare]'")
    gpus = torch.cuda.device_count()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    slots = min(len(runs), pool_slots(args, runs[0]["threads"], cores, gpus))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))).split(",")

    def launch(run: dict, slot: int) -> int:
        env = dict(os.environ)
        if args.gpus_per_run and gpus > 1:
            env["CUDA_VISIBLE_DEVICES"] = visible[slot % gpus]
        code = "import json, sys; from lwkd_hf.scripts.compare import run_one; run_one(json.loads(sys.argv[1]))"
        return subprocess.run([sys.executable, "-c", code, json.dumps(run)], cwd=run["cwd"], env=env,
                              stdout=subprocess.DEVNULL).returncode

    todo, running, free = list(runs), {}, list(range(slots))
    with ThreadPoolExecutor(slots) as pool, tqdm(total=len(runs), desc="runs", unit="run") as bar:
        while todo or running:
            while todo and free:
                run, slot = todo.pop(0), free.pop()
                running[pool.submit(launch, run, slot)] = (run, slot)
            try:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                bar.write(f"interrupted: {len(running)} runs under way finish, {len(todo)} do not start")
                raise
            for future in done:
                run, slot = running.pop(future)
                free.append(slot)
                if future.exception() or future.result():
                    bar.write(f"{run['dir']} failed ({future.exception() or f'exit status {future.result()}'}): "
                              "see its run.log")
                bar.update()


def run_all(configs: list[dict], args: CompareArguments, output_dir: Path, phase: str) -> None:
    """The runs of one phase as Ray Tune trials (without Ray, ``run_in_pool``), as many at once as the resources
    allow."""
    finished(configs)  # a run finished before with other arguments stops the call here
    pending = [c for c in configs if not (Path(c["dir"]) / FINISHED).is_file()]
    print(f"{phase}: {len(configs) - len(pending)} of {len(configs)} runs finished before, {len(pending)} to run")
    if not pending:
        return
    try:
        import ray
        from ray import tune
    except ImportError:
        print("Ray is not installed: each run in a process of its own (pip install 'lwkd-hf[compare]' for Ray)",
              file=sys.stderr)
        run_in_pool(pending, args)
    else:
        ray.init(address=args.address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        resources = {"cpu": pending[0]["threads"], "gpu": args.gpus_per_run}
        tune.Tuner(
            tune.with_resources(run_training, resources),
            param_space={"run": tune.grid_search(pending)},
            run_config=tune.RunConfig(name=phase, storage_path=str((output_dir / "ray").resolve()), verbose=1,
                                      failure_config=tune.FailureConfig(fail_fast=False)),
            tune_config=tune.TuneConfig(reuse_actors=False),
        ).fit()
    failed = [c["dir"] for c in pending if not (Path(c["dir"]) / FINISHED).is_file()]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(pending)} runs did not finish, e.g. {failed[0]}: see its run.log "
                           f"(and, with Ray, its error.txt under {output_dir / 'ray' / phase})")


def plan(base_argv: list[str], methods: list[str], settings: dict[str, list[dict]], seeds: list[int], phase: str,
         output_dir: Path, threads: float) -> list[dict]:
    runs = []
    for method in methods:
        for chosen in settings[method]:
            for seed in seeds:
                directory = run_dir(output_dir, phase, method, chosen, seed)
                argv = [*base_argv, "--method", method, "--seed", str(seed), *settings_argv(chosen),
                        "--output_dir", str(directory)]
                runs.append(run_spec(phase, method, chosen, seed, directory, argv, threads))
    return runs


def changed_arguments(recorded: dict, planned: dict, prefix: str = "") -> list[str]:
    """``section.name: recorded -> planned`` for every argument both records hold with different values."""
    changes = []
    for key in recorded.keys() & planned.keys():
        if isinstance(recorded[key], dict) and isinstance(planned[key], dict):
            changes += changed_arguments(recorded[key], planned[key], f"{prefix}{key}.")
        elif recorded[key] != planned[key]:
            changes.append(f"{prefix}{key}: {recorded[key]!r} -> {planned[key]!r}")
    return sorted(changes)


def finished(runs: list[dict], strict: bool = True) -> list[dict]:
    """The records of the planned runs that finished. A finished run made with another command is an error, and so
    is, where ``strict``, one whose arguments (defaults included, from its ``run_config.json``) differ from what the
    same command means today (a changed default, another version): its folder would otherwise stand for a run it is
    not. Not ``strict`` (a report of what exists), such runs are reported with a warning."""
    records = []
    for run in runs:
        marker = Path(run["dir"]) / FINISHED
        if marker.is_file():
            record = json.loads(marker.read_text(encoding="utf-8"))
            planned = command(run)
            if record["command"] != planned:
                raise ValueError(f"{marker.parent} holds a run made as `{record['command']}`, not as `{planned}`: "
                                 "use another --output_dir for other arguments")
            run_config = marker.parent / train.RUN_CONFIG_NAME
            if run["program"] == "train" and run_config.is_file():
                recorded = json.loads(run_config.read_text(encoding="utf-8"))
                planned_arguments = json.loads(json.dumps(train.run_arguments(*train.parse_arguments(run["argv"]))))
                changes = changed_arguments({k: recorded.get(k, {}) for k in planned_arguments}, planned_arguments)
                if changes:
                    message = (f"{marker.parent} holds a run of the same command that ran with other values "
                               f"({'; '.join(changes[:5])}): a default changed since")
                    if strict:
                        raise ValueError(f"{message}; use another --output_dir")
                    print(f"warning: {message}; reported as it ran", file=sys.stderr)
            records.append(record)
    return records


def select(records: list[dict]) -> dict[str, dict]:
    """Per method, the settings with the best mean dev accuracy over its tuning seeds (ties: the first listed)."""
    by_config: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        by_config.setdefault((record["method"], json.dumps(record["settings"], sort_keys=True)), []).append(record)
    best: dict[str, tuple[float, dict]] = {}
    for (method, _), group in by_config.items():
        score = statistics.fmean(r["metrics"]["eval_accuracy"] for r in group)
        if method not in best or score > best[method][0]:
            best[method] = (score, group[0]["settings"])
    return {method: chosen for method, (_, chosen) in best.items()}


def check_inputs(data_args: DataArguments, method_args: MethodArguments, methods: list[str]) -> None:
    """Fail before any training: unknown methods, a missing teacher, unreadable data (file and row)."""
    for method in methods:
        spec = get_method(method)
        if spec.needs_model_teacher and not method_args.kd_teacher_dir:
            raise ValueError(f"--methods has {method}, which needs --kd_teacher_dir (a trained classifier)")
        if spec.needs_lightweight_teacher and not (method_args.mnist_dir or method_args.teacher_dir):
            raise ValueError(f"--methods has {method}, which needs --mnist_dir (or a saved --teacher_dir)")
    load_raw_data(data_args)


# ---- the report: comparison.md, comparison.json, comparison.png ----


def _shown(measure: str, value: float) -> float:
    return 100 * value if measure in PERCENT else value


def render_markdown(summary: dict, command: str) -> str:
    """comparison.md: the verdict, the table, the differences with intervals and Holm-adjusted p."""
    split = "test" if summary["split"] == "test" else "validation (no labelled test split)"
    lines = ["# Comparison", "", f"**Verdict.** {summary['verdict']}", "", f"Command: `{command}`", "",
             f"Scores on the {split} set, each run at its own seed; mean ± sd over seeds.", ""]
    methods = list(summary["table"].get("accuracy", {}))
    header = [MEASURES[m] for m in summary["table"]]
    lines += ["| method | seeds | " + " | ".join(header) + " |", "|---|---|" + "---|" * len(header)]
    for method in methods:
        cells = []
        for measure, per_method in summary["table"].items():
            row = per_method.get(method)
            cells.append("–" if row is None else
                         f"{_shown(measure, row['mean']):.2f} ± {_shown(measure, row['sd']):.2f}")
        lines.append(f"| {method} | {summary['table']['accuracy'][method]['n']} | " + " | ".join(cells) + " |")
    lines += ["", "Accuracy differences in points, paired by seed: 95 % t interval, raw p, and p adjusted by Holm's "
              f"method over these {len(summary['accuracy_differences'])} comparisons.", "",
              "| comparison | difference [95 % CI] | seeds | p | Holm p |", "|---|---|---|---|---|"]
    for c in summary["accuracy_differences"]:
        interval = ("–" if math.isnan(c["low"]) else
                    f"{100 * c['mean']:+.2f} [{100 * c['low']:+.2f}, {100 * c['high']:+.2f}]")
        p = "–" if math.isnan(c["p_value"]) else f"{c['p_value']:.3f}"
        p_holm = "–" if math.isnan(c["p_holm"]) else f"{c['p_holm']:.3f}"
        lines.append(f"| {c['a']} − {c['b']} | {interval} | {c['n']} | {p} | {p_holm} |")
    lines += ["", "What these numbers do not show: a difference whose interval contains 0 is not evidence of no "
              "difference, only of none measurable with these seeds; intervals are over training seeds on one split, "
              "not over datasets; ECE (15 bins) and NLL are calibration, which label smoothing and KD move in opposite "
              "directions, not accuracy.", ""]
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """comparison.png: per method, each seed's accuracy and the mean; beside it the differences with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = summary["scores"].get("accuracy", {})
    family = summary["accuracy_differences"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (method, per_seed) in enumerate(scores.items()):
        values = [100 * v for v in per_seed.values()]
        left.scatter([i] * len(values), values, alpha=0.6)
        left.hlines(statistics.fmean(values), i - 0.25, i + 0.25, color="black")
    left.set_xticks(range(len(scores)), list(scores))
    left.set_ylabel(f"{summary['split']} accuracy (%)")
    left.set_title("each seed, and the mean")
    for i, c in enumerate(family):
        if not math.isnan(c["low"]):
            right.errorbar(100 * c["mean"], i, xerr=[[100 * (c["mean"] - c["low"])], [100 * (c["high"] - c["mean"])]],
                           fmt="o", capsize=3)
        else:
            right.plot(100 * c["mean"], i, "o")
    right.axvline(0, color="grey", linewidth=0.8)
    right.set_yticks(range(len(family)), [f"{c['a']} − {c['b']}" for c in family])
    right.set_xlabel("difference (points), 95 % t interval")
    right.set_title("paired by seed")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def plot_intervals(rows: list[tuple], xlabel: str, path: Path, threshold: float | None = None,
                   legend: dict[str, str] | None = None) -> None:
    """A PNG with one row per ``(label, PairedComparison, colour)``, first on top: the difference in points with
    its interval, a line at 0, given a ``threshold`` (points) a dashed one there, and given a ``legend`` (colour ->
    what it marks) a key below the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.3 + 0.25 * len(legend or ()) / 2), layout="constrained")
    for i, (_, c, color) in enumerate(rows):
        ax.errorbar(100 * c.mean, i, xerr=[[100 * (c.mean - c.low)], [100 * (c.high - c.mean)]], fmt="o",
                    color=color, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="tab:red", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")
    if legend:
        handles = [ax.errorbar([], [], xerr=[], fmt="o", color=color, label=text) for color, text in legend.items()]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(summary: dict, output_dir: Path, command: str) -> None:
    """comparison.json, comparison.md and comparison.png under ``output_dir``."""
    atomic_write_json(output_dir / "comparison.json", dict(summary, command=command))
    atomic_write_text(output_dir / "comparison.md", render_markdown(summary, command))
    plot(summary, output_dir / "comparison.png")


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = HfArgumentParser((DataArguments, ModelArguments, MethodArguments, TrainScriptConfig, CompareArguments))
    data_args, _, method_args, training_args, args = parser.parse_args_into_dataclasses(args=argv)
    output_dir = Path(training_args.output_dir)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else (
        ["sup", "lsr", "tfkd", "lwkd"] + (["kd"] if method_args.kd_teacher_dir else []))
    own = {f.name for f in dataclasses.fields(CompareArguments)} | {"output_dir", "seed", "method"}
    base_argv = drop_options(argv, own)
    invocation = shlex.join(["lwkd", "compare", *argv])
    threads = args.cpus_per_run or os.cpu_count() or 1
    if args.gpus_per_run is None:
        args.gpus_per_run = 1.0 if torch.cuda.is_available() else 0.0
    if not args.report_only:
        check_inputs(data_args, method_args, methods)
    settings = {m: [{}] for m in methods}
    if args.tune:
        tuning = [TUNING_SEED_BASE + i for i in range(args.tuning_seeds)]
        grid = plan(base_argv, methods, read_grid(args.grid, methods), tuning, "tune", output_dir, threads)
        if not args.report_only:
            run_all(grid, args, output_dir, "tune")
        settings = {m: [chosen] for m, chosen in select(finished(grid, strict=not args.report_only)).items()}
    finals = plan(base_argv, methods, settings, list(range(args.seeds)), "final", output_dir, threads)
    if not args.report_only:
        run_all(finals, args, output_dir, "final")
    records = finished(finals, strict=not args.report_only)
    prefix = "test" if all("test_accuracy" in r["metrics"] for r in records) else "eval"
    summary = summarize(records, prefix)
    summary["runs"] = [{k: r[k] for k in ("method", "settings", "seed", "wall_seconds")} for r in records]
    write_report(summary, output_dir, invocation)
    print((output_dir / "comparison.md").read_text(encoding="utf-8"))
    return summary


if __name__ == "__main__":
    main()
