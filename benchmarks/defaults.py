#!/usr/bin/env python
"""Do LW-KD's default settings train wherever plain supervision trains? ``lwkd compare --methods sup,lwkd`` at the
defaults on four settings (issue 26, point 5):

- ``textcnn-thucnews``: TextCNN with the Tencent vectors on THUCNews;
- ``textcnn-toutiao``: TextCNN on ToutiaoNews (15 classes, unbalanced; character vocabulary built from train);
- ``bert-english``: a small BERT trained from scratch on a generated 4-class English CSV (:func:`write_english_csv`),
  the setting where a user saw LW-KD's defaults stall;
- ``dpcnn-thucnews``: DPCNN, a deeper student, on THUCNews.

    python benchmarks/defaults.py --data-root ../shared/data --output-dir runs/defaults --seeds 3
    python benchmarks/defaults.py ... --report-only        # the table from finished runs
    python benchmarks/defaults.py --write-english-csv outputs/english   # only the English CSVs
    python benchmarks/defaults.py --plot defaults.png runs/defaults/*/   # lwkd − sup of finished comparisons

Each setting is one ``lwkd compare`` folder (resumable: finished runs are never run again); the table of
``lwkd`` minus ``sup`` per setting goes to ``--summary`` (JSON) and the terminal. ``--extra`` adds ``lwkd train``
arguments to every run (e.g. another ``--kl_scaling``), into a folder of its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.comparison import paired_difference
from lwkd_hf.scripts import compare

TOPICS = {
    "sports": ("the striker", "the coach", "the keeper", "the team", "the referee", "the champion"),
    "markets": ("the bank", "the investor", "the fund", "the trader", "the central bank", "the broker"),
    "science": ("the physicist", "the lab", "the telescope", "the biologist", "the probe", "the chemist"),
    "cooking": ("the chef", "the baker", "the kitchen", "the cook", "the restaurant", "the pastry team"),
}
ACTIONS = {
    "sports": ("scored in", "won", "lost", "trained for", "was sent off in", "celebrated"),
    "markets": ("bought shares in", "sold bonds of", "raised rates for", "hedged", "traded", "valued"),
    "science": ("measured", "observed", "published results on", "discovered", "tested", "modelled"),
    "cooking": ("baked", "roasted", "seasoned", "served", "grilled", "simmered"),
}
OBJECTS = {
    "sports": ("the final", "the derby", "the league match", "the cup tie", "the season opener", "the replay"),
    "markets": ("the tech stocks", "the treasury", "the index", "the currency", "the futures", "the dividend"),
    "science": ("a new particle", "the distant galaxy", "the enzyme", "the comet", "the cell culture", "the isotope"),
    "cooking": ("the sourdough", "a lamb shoulder", "the risotto", "the tart", "the broth", "the dumplings"),
}
FILLERS = ("on monday", "yesterday", "this week", "after a long delay", "in the evening", "once again", "at last",
           "to everyone's surprise", "before noon", "in front of a crowd")


def write_english_csv(folder: Path, per_class: tuple[int, int, int] = (500, 100, 200), seed: int = 0) -> dict[str, Path]:
    """train/dev/test CSVs (``text``, ``label``) of templated English headlines in four topics: subject, verb,
    object and filler words each belong to one topic, except the shared fillers. Deterministic for ``seed``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in zip(("train", "dev", "test"), per_class):
        rows = [{"text": f"{rng.choice(TOPICS[t])} {rng.choice(ACTIONS[t])} {rng.choice(OBJECTS[t])} "
                         f"{rng.choice(FILLERS)}", "label": t} for t in TOPICS for _ in range(n)]
        rng.shuffle(rows)
        paths[split] = folder / f"{split}.csv"
        with open(paths[split], "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(rows)
    return paths


def settings(data_root: Path, english: dict[str, Path]) -> dict[str, list[str]]:
    thucnews = data_root / "thucnews"
    vectors = ["--vocab_file", str(thucnews / "vocab.json"), "--embeddings_file", str(thucnews / "embedding_Tencent.npz")]
    return {
        "textcnn-thucnews": ["--dataset", "thucnews", "--data_dir", str(thucnews), "--model", "textcnn", *vectors],
        "textcnn-toutiao": ["--dataset", "toutiao", "--data_dir", str(data_root / "toutiao"), "--model", "textcnn"],
        "bert-english": ["--train_file", str(english["train"]), "--validation_file", str(english["dev"]),
                         "--test_file", str(english["test"]), "--model", "bert", "--num_train_epochs", "12",
                         "--per_device_train_batch_size", "32"],
        "dpcnn-thucnews": ["--dataset", "thucnews", "--data_dir", str(thucnews), "--model", "dpcnn", *vectors],
    }


def differences(folders: list[Path]) -> list[tuple]:
    """``(setting, "α A, KL_SCALING", lwkd − sup)`` per comparison folder, sorted: the paired difference computed
    from its runs' records (``compare_run.json``: test accuracy per seed), α and ``kl_scaling`` read from what its
    LW-KD runs recorded (``run_config.json``)."""
    rows = []
    for folder in folders:
        records = {method: [json.loads(p.read_text()) for p in (folder / "runs" / "final" / method).glob(
            "*/seed*/compare_run.json")] for method in ("sup", "lwkd")}
        configs = sorted((folder / "runs" / "final" / "lwkd").glob("*/seed*/run_config.json"))
        if not (records["sup"] and records["lwkd"] and configs):
            raise ValueError(f"{folder}: expected finished sup and lwkd runs under runs/final/, found "
                             f"{len(records['sup'])} and {len(records['lwkd'])}")
        scores = {method: {r["seed"]: r["metrics"]["test_accuracy"] for r in found} for method, found in records.items()}
        training = json.loads(configs[0].read_text())["training"]
        setting = "-".join(folder.name.split("-")[:2])
        rows.append((setting, f"α {training['alpha']:g}, {training['kl_scaling']}",
                     paired_difference(scores["lwkd"], scores["sup"])))
    return sorted(rows, key=lambda row: (row[0], row[1]))


def plot(rows: list[tuple], path: Path) -> None:
    """``differences``' rows, one interval each; blue where it excludes 0 below, a dashed line at −1 point."""
    compare.plot_intervals([(f"{setting}: {label}", d, "tab:blue" if d.high < 0 else "tab:gray")
                            for setting, label, d in rows],
                           "lwkd − sup, test accuracy points\n(95 % t interval over paired seeds; dashed line: −1 point)",
                           path, threshold=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--write-english-csv", type=Path, metavar="DIR", help="write the English CSVs there, and stop")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", nargs="+", help="a subset of the four (default: all)")
    parser.add_argument("--max-train-samples", type=int, default=10000,
                        help="seeded random training rows of the presets (all of the English CSV's 2,000)")
    parser.add_argument("--epochs", type=float, default=3, help="epochs of the presets (the English CSV: 12)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="lwkd train arguments for every run")
    parser.add_argument("--summary", type=Path, help="write the table as JSON here")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--plot", nargs="+", type=Path, metavar=("PNG", "FOLDER"),
                        help="plot lwkd − sup of these finished comparison folders into PNG, and stop")
    args = parser.parse_args()
    if args.plot:
        if len(args.plot) < 2:
            parser.error("--plot takes the PNG to write, then one or more comparison folders")
        plot(differences(args.plot[1:]), args.plot[0])
        return
    if args.write_english_csv:
        print(json.dumps({split: str(path) for split, path in write_english_csv(args.write_english_csv).items()}))
        return
    if not (args.data_root and args.output_dir):
        parser.error("--data-root and --output-dir are required (except with --write-english-csv)")

    english = write_english_csv(args.output_dir / "english-data")
    table = {}
    for name, argv in settings(args.data_root, english).items():
        if args.settings and name not in args.settings:
            continue
        preset = ["--max_train_samples", str(args.max_train_samples), "--num_train_epochs", str(args.epochs)]
        folder = args.output_dir / (name + ("-" + "_".join(a.strip("-") for a in args.extra) if args.extra else ""))
        summary = compare.main([
            *(preset if "--dataset" in argv else []), *argv, "--methods", "sup,lwkd", "--seeds", str(args.seeds),
            "--mnist_dir", str(args.data_root / "mnist"), "--output_dir", str(folder), "--report_to", "none",
            "--disable_tqdm", "true", *(["--report_only", "true"] if args.report_only else []), *args.extra,
        ])
        table[name] = {"sup": summary["table"]["accuracy"]["sup"], "lwkd": summary["table"]["accuracy"]["lwkd"],
                       "lwkd_minus_sup": summary["accuracy_differences"][0], "folder": str(folder)}
    lines = ["| setting | sup (%) | lwkd (%) | lwkd − sup (points) [95 % CI] | Holm p |", "|---|---|---|---|---|"]
    for name, row in table.items():
        d = row["lwkd_minus_sup"]
        lines.append(f"| {name} | {100 * row['sup']['mean']:.2f} ± {100 * row['sup']['sd']:.2f} | "
                     f"{100 * row['lwkd']['mean']:.2f} ± {100 * row['lwkd']['sd']:.2f} | {100 * d['mean']:+.2f} "
                     f"[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] | {d['p_holm']:.3f} |")
    print("\n".join(lines))
    if args.summary:
        atomic_write_json(args.summary, {"extra": args.extra, "seeds": args.seeds, "settings": table,
                                         "table": lines})
    print(json.dumps({name: row["folder"] for name, row in table.items()}))


if __name__ == "__main__":
    main()
