"""The ``lwkd`` command: ``lwkd train`` (one run), ``lwkd compare`` (methods side by side over seeds),
``lwkd teacher`` (the lightweight teacher), ``lwkd targets`` (its soft targets as a dataset column)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .columns import TEACHER_LOGITS_COLUMN


def _teacher(args: argparse.Namespace) -> None:
    from .teacher_training import train_teacher

    per_class = args.per_class[0] if args.per_class and len(args.per_class) == 1 else args.per_class
    if args.output.exists() and any(args.output.iterdir()) and not args.overwrite:
        raise SystemExit(f"lwkd teacher: {args.output} exists and is not empty; pass --overwrite to replace it")
    teacher = train_teacher(
        args.num_classes,
        per_class,
        mnist=args.mnist_dir,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
        output_dir=args.output,
        device=args.device,
        cache_dir=None if args.no_teacher_cache else (args.cache_dir or True),
    )
    config = teacher.config
    print(
        f"teacher K={config.num_classes} examples={sum(config.per_class)} epochs={config.epochs} "
        f"test_accuracy={config.test_accuracy:.4f} on {config.test_examples} held-out examples "
        f"train_seconds={config.train_seconds:.1f} -> {args.output}"
    )


def load_input(paths: list[Path]):
    """A ``save_to_disk`` folder (Dataset or DatasetDict) or CSV/TSV/JSON(L) files, as a DatasetDict."""
    import datasets

    from .text.data import FILE_BUILDERS

    if len(paths) == 1 and paths[0].is_dir():
        loaded = datasets.load_from_disk(str(paths[0]))
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
    suffixes = {p.suffix.lower() for p in paths}
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"input not found: {', '.join(missing)}")
    if len(suffixes) != 1 or next(iter(suffixes)) not in FILE_BUILDERS:
        raise ValueError(
            f"--input takes one save_to_disk folder or files of one type {sorted(FILE_BUILDERS)}, got {suffixes}"
        )
    builder, kwargs = FILE_BUILDERS[suffixes.pop()]
    return datasets.load_dataset(builder, data_files={"train": [str(p) for p in paths]}, **kwargs)


def _targets(args: argparse.Namespace) -> None:
    from .atomic import atomic_dir
    from .soft_targets import add_teacher_logits
    from .teacher import Teacher

    teacher = Teacher.load(args.teacher)  # fails fast on a folder that is not a teacher
    data = load_input(args.input)
    splits = args.splits or list(data)
    unknown = sorted(set(splits) - set(data))
    if unknown:
        raise ValueError(f"--splits names {unknown}, but the input has splits {sorted(data)}")
    for split in splits:
        data[split] = add_teacher_logits(
            data[split], teacher, mnist=args.mnist_dir, column=args.column, seed=args.seed, dtype=args.dtype
        )
    with atomic_dir(args.output) as tmp:
        data.save_to_disk(str(tmp))
    summary = {split: {"rows": len(data[split]), "columns": data[split].column_names} for split in data}
    print(json.dumps({"output": str(args.output), "splits": summary}, ensure_ascii=False))


#: Subcommands that parse their own arguments (HfArgumentParser over dataclasses): name -> (module, help).
SCRIPTS = {
    "train": ("lwkd_hf.scripts.train", "train one model with LW-KD or a baseline (run_classification.py's arguments)"),
    "compare": ("lwkd_hf.scripts.compare", "compare methods on your data over paired seeds: intervals and a verdict"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lwkd", description="LW-KD for Hugging Face Transformers: train, compare methods, make a teacher and "
        "its soft targets. 'lwkd COMMAND --help' lists a command's arguments.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in SCRIPTS.items():
        commands.add_parser(name, help=help_text, add_help=False)

    teacher = commands.add_parser("teacher", help="train LeNet5 on SynMNIST-K and save it (safetensors + config.json)")
    teacher.add_argument("--num-classes", type=int, required=True, help="K, the target dataset's class count")
    teacher.add_argument(
        "--per-class", type=int, nargs="+",
        help="synthetic examples per class: one number, or K numbers mirroring the target's class counts "
        "(default: Table 2's; for K=10 the MNIST training set itself)",
    )
    teacher.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: the GPU when there is one)")
    teacher.add_argument("--cache-dir", help="teacher cache (default: $LWKD_CACHE_DIR or ~/.cache/lwkd_hf)")
    teacher.add_argument("--no-teacher-cache", action="store_true", help="always train; do not read or fill the cache")
    teacher.add_argument("--epochs", type=int, default=10)
    teacher.add_argument("--mnist-dir", required=True, help="folder with the four MNIST IDX files, or a Hub id")
    teacher.add_argument("--output", type=Path, required=True)
    teacher.add_argument("--learning-rate", type=float, default=0.05)
    teacher.add_argument("--lr-schedule", default="warmup-cosine", choices=["warmup-cosine", "constant"])
    teacher.add_argument("--batch-size", type=int, default=128)
    teacher.add_argument("--seed", type=int, default=0)
    teacher.add_argument("--overwrite", action="store_true", help="replace a non-empty --output folder")
    teacher.set_defaults(func=_teacher)

    targets = commands.add_parser("targets", help="add the shifted teacher logits column to a dataset")
    targets.add_argument("--teacher", type=Path, required=True, help="folder written by `lwkd teacher`")
    targets.add_argument(
        "--mnist-dir", help="MNIST source for the synthetic partners (default: the one the teacher was trained on)"
    )
    targets.add_argument(
        "--input", type=Path, nargs="+", required=True,
        help="a save_to_disk folder, or CSV/TSV/JSON files with an integer `label` column",
    )
    targets.add_argument("--output", type=Path, required=True, help="folder for the result (save_to_disk)")
    targets.add_argument("--splits", nargs="+", help="splits to fill (default: all)")
    targets.add_argument("--column", default=TEACHER_LOGITS_COLUMN, help="name of the new column")
    targets.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    targets.add_argument("--seed", type=int, default=0)
    targets.set_defaults(func=_targets)
    return parser


def run(argv: list[str]) -> None:
    """``lwkd ARGV`` in this process; errors are raised, not turned into an exit status."""
    if argv and argv[0] in SCRIPTS:  # the script parses the rest, --help included
        import importlib

        importlib.import_module(SCRIPTS[argv[0]][0]).main(argv[1:])
        return
    args = build_parser().parse_args(argv)
    args.func(args)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        run(argv)
    except (ValueError, FileNotFoundError) as err:
        if argv and argv[0] in SCRIPTS:
            raise  # the scripts' errors keep their traceback, as before
        print(f"lwkd {argv[0] if argv else 'lwkd'}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    main()
