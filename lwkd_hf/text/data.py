"""Readers for the Chinese text-classification datasets of the LW-KD paper (Sec. 4.1).

Both readers return a ``datasets.DatasetDict`` with splits ``train``, ``validation`` and
``test`` and the columns ``text`` (str) and ``label`` (``datasets.ClassLabel`` with the
class names). Where a split file is missing, the missing splits are carved out of the training
pool (or out of the single data file) with a seeded stratified split in the paper's 18:1:1
proportions.

* THUCNews: ``headline<TAB>label`` lines, class names from ``class.txt``.
* ToutiaoNews: either the original ``id_!_code_!_name_!_title_!_keywords`` lines (category code
  100..116) or the two-field ``title_!_label`` lines (label 0..14); the format is detected per file.

Every line is checked before any dataset is built: a malformed line raises ``ValueError``
naming the file, the 1-based line number, what was expected and what was found.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

SPLITS = ("train", "validation", "test")
#: The paper's train:validation:test proportions (Sec. 4.1).
PAPER_RATIOS = {"train": 18, "validation": 1, "test": 1}

#: ToutiaoNews category code -> (label, name), as in the original dataset's README.
TOUTIAO_CATEGORIES = {
    100: (0, "news_story"),
    101: (1, "news_culture"),
    102: (2, "news_entertainment"),
    103: (3, "news_sports"),
    104: (4, "news_finance"),
    106: (5, "news_house"),
    107: (6, "news_car"),
    108: (7, "news_edu"),
    109: (8, "news_tech"),
    110: (9, "news_military"),
    112: (10, "news_travel"),
    113: (11, "news_world"),
    114: (12, "stock"),
    115: (13, "news_agriculture"),
    116: (14, "news_game"),
}
TOUTIAO_CLASS_NAMES = [name for _, name in sorted(TOUTIAO_CATEGORIES.values())]
TOUTIAO_SEP = "_!_"

#: Accepted file names per split inside a ToutiaoNews folder (first match wins).
TOUTIAO_SPLIT_FILES = {
    "train": ("toutiao_train.txt", "train.txt"),
    "validation": ("toutiao_val.txt", "toutiao_dev.txt", "val.txt", "dev.txt", "validation.txt"),
    "test": ("toutiao_test.txt", "test.txt"),
}

Examples = tuple[list[str], list[int]]
LineParser = Callable[[str], tuple[str, int]]


class _LineError(Exception):
    """A line parser's complaint; the file reader adds the path and line number."""


def stratified_split(
    labels: Sequence[int], ratios: Sequence[float] = (18, 1, 1), seed: int = 42
) -> tuple[np.ndarray, ...]:
    """Split indices ``0..len(labels)-1`` into ``len(ratios)`` parts, stratified by label.

    Each class is shuffled with a generator seeded by ``seed`` and cut into parts of
    ``floor(n * ratio / sum(ratios))`` examples; its leftover examples go to the parts furthest
    below their share of all classes so far (ties at random), so every part gets its share of every
    class and the part totals stay close to the exact ratios. A class with at least as many examples
    as there are positive ratios gets at least one example in each of those parts.
    Returns sorted ``int64`` index arrays.
    """
    labels = np.asarray(labels)
    ratios = np.asarray(ratios, dtype=float)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    if ratios.ndim != 1 or len(ratios) < 1 or (ratios < 0).any() or ratios.sum() <= 0:
        raise ValueError(f"ratios must be non-negative with a positive sum, got {ratios.tolist()}")
    rng = np.random.default_rng(seed)
    shares = ratios / ratios.sum()
    wanted = np.flatnonzero(ratios > 0)
    total_quota = np.zeros(len(ratios))
    total_count = np.zeros(len(ratios), dtype=int)
    parts: list[list[np.ndarray]] = [[] for _ in ratios]
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        quotas = len(idx) * shares
        counts = np.floor(quotas).astype(int)
        total_quota += quotas
        deficit = total_quota - total_count - counts
        order = np.lexsort((rng.random(len(ratios)), -deficit))
        counts[order[: len(idx) - counts.sum()]] += 1
        if len(idx) >= len(wanted):
            for part in wanted[counts[wanted] == 0]:
                counts[np.argmax(counts)] -= 1
                counts[part] = 1
        total_count += counts
        for part, chunk in zip(parts, np.split(idx, np.cumsum(counts)[:-1])):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts)


def _read_examples(path: Path, parse: LineParser) -> Examples:
    """Parse every line of ``path`` (UTF-8) with ``parse``; errors name the file and 1-based line."""
    with open(path, encoding="utf-8") as f:
        content = f.read()
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    texts, labels = [], []
    for lineno, line in enumerate(lines, start=1):
        try:
            text, label = parse(line.removesuffix("\r"))
        except _LineError as err:
            raise ValueError(f"{path}, line {lineno}: {err} (line: {line[:200]!r})") from None
        texts.append(text)
        labels.append(label)
    if not texts:
        raise ValueError(f"{path}: no examples (empty file)")
    return texts, labels


def _parse_label(field: str, num_classes: int) -> int:
    try:
        label = int(field)
    except ValueError:
        raise _LineError(f"expected an integer label 0..{num_classes - 1}, got {field!r}") from None
    if not 0 <= label < num_classes:
        raise _LineError(f"expected a label in 0..{num_classes - 1}, got {label}")
    return label


def _require_text(text: str) -> str:
    if not text.strip():
        raise _LineError("expected a non-empty text")
    return text


def _assemble(
    split_examples: dict[str, Examples], class_names: list[str], split_seed: int
) -> DatasetDict:
    """Build the DatasetDict; splits absent from ``split_examples`` are carved from ``train``."""
    split_examples = dict(split_examples)
    missing = [s for s in SPLITS if s not in split_examples]
    if missing:
        texts, labels = split_examples["train"]
        carved = ["train"] + missing
        parts = stratified_split(labels, [PAPER_RATIOS[s] for s in carved], seed=split_seed)
        for split, idx in zip(carved, parts):
            split_examples[split] = ([texts[i] for i in idx], [labels[i] for i in idx])
    features = Features({"text": Value("string"), "label": ClassLabel(names=class_names)})
    columns = ("text", "label")
    return DatasetDict(
        {split: Dataset.from_dict(dict(zip(columns, split_examples[split])), features=features) for split in SPLITS}
    )


# ----------------------------------------------------------------------------------------------- THUCNews


def _read_class_names(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"THUCNews class list not found: {path}")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    names = [line.strip() for line in lines]
    for lineno, name in enumerate(names, start=1):
        if not name:
            raise ValueError(f"{path}, line {lineno}: expected a class name, got an empty line")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: class names must be unique, got {names}")
    return names


def load_thucnews(
    data_dir: str | os.PathLike, *, train_file: str | os.PathLike | None = None, split_seed: int = 42
) -> DatasetDict:
    """Read the THUCNews 10-class headline set (``class.txt``, ``train.txt``, ``dev.txt``, ``test.txt``).

    The training file is ``train_file`` (relative to ``data_dir`` or absolute) if given, else
    ``train.txt``, else ``train_first45000.txt``. ``dev.txt`` becomes ``validation``. A missing
    ``dev.txt``/``test.txt`` is carved out of the training file (stratified, seeded, 18:1:1).
    """
    data_dir = Path(data_dir)
    class_names = _read_class_names(data_dir / "class.txt")
    if train_file is not None:
        train_path = data_dir / train_file
        if not train_path.is_file():
            raise FileNotFoundError(f"THUCNews training file not found: {train_path}")
    else:
        candidates = [data_dir / "train.txt", data_dir / "train_first45000.txt"]
        train_path = next((p for p in candidates if p.is_file()), None)
        if train_path is None:
            expected = [p.name for p in candidates]
            raise FileNotFoundError(f"no THUCNews training file in {data_dir}: expected one of {expected}")

    def parse(line: str) -> tuple[str, int]:
        fields = line.split("\t")
        if len(fields) != 2:
            raise _LineError(f"expected 'headline<TAB>label' (2 tab-separated fields), got {len(fields)} field(s)")
        return _require_text(fields[0]), _parse_label(fields[1], len(class_names))

    paths = {"train": train_path, "validation": data_dir / "dev.txt", "test": data_dir / "test.txt"}
    examples = {split: _read_examples(p, parse) for split, p in paths.items() if p.is_file()}
    return _assemble(examples, class_names, split_seed)


# ----------------------------------------------------------------------------------------------- ToutiaoNews


def _parse_toutiao_original(line: str) -> tuple[str, int]:
    fields = line.split(TOUTIAO_SEP)
    if len(fields) != 5:
        raise _LineError(f"expected 'id_!_code_!_name_!_title_!_keywords' (5 fields), got {len(fields)} field(s)")
    _, code, name, title, _ = fields
    try:
        label, expected_name = TOUTIAO_CATEGORIES[int(code)]
    except (ValueError, KeyError):
        raise _LineError(f"expected a category code in {sorted(TOUTIAO_CATEGORIES)}, got {code!r}") from None
    if name != expected_name:
        raise _LineError(f"expected category name {expected_name!r} for code {code}, got {name!r}")
    return _require_text(title), label


def _parse_toutiao_two_field(line: str) -> tuple[str, int]:
    title, sep, label = line.rpartition(TOUTIAO_SEP)
    if not sep:
        raise _LineError("expected 'title_!_label' (2 fields), got 1 field")
    return _require_text(title), _parse_label(label, len(TOUTIAO_CLASS_NAMES))


def _read_toutiao_file(path: Path) -> Examples:
    """Read one ToutiaoNews file; the format is that of its first line (5 fields: original, else two-field)."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\r\n")
    original = len(first.split(TOUTIAO_SEP)) == 5
    return _read_examples(path, _parse_toutiao_original if original else _parse_toutiao_two_field)


def load_toutiao(path: str | os.PathLike, *, split_seed: int = 42) -> DatasetDict:
    """Read ToutiaoNews (15 classes) from a file or a folder.

    A folder with a training file (``toutiao_train.txt`` or ``train.txt``) uses its split files
    (``toutiao_val.txt``/``dev.txt``/..., ``toutiao_test.txt``/``test.txt``) and carves any missing
    split out of the training file. A folder with a single ``.txt`` file, or a file, is split
    18:1:1 (stratified, seeded).
    """
    path = Path(path)
    if path.is_file():
        examples = {"train": _read_toutiao_file(path)}
    elif path.is_dir():
        found = {}
        for split, names in TOUTIAO_SPLIT_FILES.items():
            hit = next((path / n for n in names if (path / n).is_file()), None)
            if hit is not None:
                found[split] = hit
        if "train" not in found:
            txt_files = sorted(p for p in path.glob("*.txt") if p.is_file())
            if len(txt_files) != 1:
                raise ValueError(
                    f"{path}: expected a training file ({' or '.join(TOUTIAO_SPLIT_FILES['train'])}) or exactly one "
                    f".txt data file, got {[p.name for p in txt_files]}"
                )
            found = {"train": txt_files[0]}
        examples = {split: _read_toutiao_file(p) for split, p in found.items()}
    else:
        raise FileNotFoundError(f"ToutiaoNews data not found: {path}")
    return _assemble(examples, TOUTIAO_CLASS_NAMES, split_seed)


# ----------------------------------------------------------------------------------------------- dispatch

LOADERS = {"thucnews": load_thucnews, "toutiao": load_toutiao}


def load_text_classification(name: str, data_dir: str | os.PathLike, **kwargs) -> DatasetDict:
    """Load a text-classification dataset by name: ``"thucnews"`` or ``"toutiao"``."""
    try:
        loader = LOADERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown text dataset {name!r}; choose one of {sorted(LOADERS)}") from None
    return loader(data_dir, **kwargs)


# ----------------------------------------------------------------------------------------------- any labelled data

#: file suffix -> (``datasets`` builder, its keyword arguments)
FILE_BUILDERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".json": ("json", {}), ".jsonl": ("json", {})}


def read_data_file(path: str | os.PathLike, split: str = "train") -> Dataset:
    """One CSV, TSV, JSON or JSON Lines file as a ``Dataset`` (through ``datasets.load_dataset``, so it is cached)."""
    import datasets

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.suffix.lower() not in FILE_BUILDERS:
        raise ValueError(f"{path}: expected a file ending in one of {sorted(FILE_BUILDERS)}, got {path.suffix!r}")
    builder, kwargs = FILE_BUILDERS[path.suffix.lower()]
    return datasets.load_dataset(builder, data_files={split: str(path)}, split=split, **kwargs)


def load_hub_dataset(name: str, config_name: str | None = None) -> DatasetDict:
    """``datasets.load_dataset(name, config_name)``, with a clear error where the Hub cannot be reached."""
    import datasets

    try:
        return datasets.load_dataset(name, config_name)
    except (ConnectionError, OSError, ValueError) as err:
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        why = "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)" if offline else f"{type(err).__name__}: {err}"
        raise ValueError(
            f"could not load dataset {name!r} (configuration {config_name!r}) from the Hugging Face Hub ({why}); "
            f"check the names, or pass local files with --train_file/--validation_file/--test_file"
        ) from err


def prepare_classification(
    raw: dict[str, Dataset],
    *,
    text_columns: Sequence[str],
    label_column: str = "label",
    sources: dict[str, str] | None = None,
    text_delimiter: str = " ",
    validation_fraction: float = 0.05,
    split_seed: int = 42,
) -> DatasetDict:
    """Any labelled splits -> ``train``/``validation``[/``test``] with ``text`` (str) and ``label`` (ClassLabel).

    ``text_columns`` are joined with ``text_delimiter``. String (or integer) labels become class ids in
    sorted order of the training labels (a ``ClassLabel`` keeps its own names); a validation or test label
    the training split lacks is an error naming the split's source and row. A missing ``validation`` is
    carved out of ``train`` (``validation_fraction``, stratified, seeded); a missing ``test`` stays missing,
    and a test split without the label column is kept unlabelled (for prediction only).
    """
    sources = sources or {}
    if "train" not in raw:
        raise ValueError(f"no training split: got splits {sorted(raw)}")
    raw = {split: dataset for split, dataset in raw.items() if split in SPLITS}  # e.g. a Hub "unsupervised" split

    def where(split: str) -> str:
        return sources.get(split, f"split '{split}'")

    for split, dataset in raw.items():
        missing = [c for c in text_columns if c not in dataset.column_names]
        if missing:
            raise ValueError(
                f"{where(split)}: text column(s) {missing} not found; it has columns {dataset.column_names} "
                "(set --text_column_name)"
            )
        if label_column not in dataset.column_names and split != "test":
            raise ValueError(
                f"{where(split)}: label column {label_column!r} not found; it has columns {dataset.column_names} "
                "(set --label_column_name)"
            )
    train_feature = raw["train"].features[label_column]
    if isinstance(train_feature, ClassLabel):
        names = list(train_feature.names)
        to_id = {name: i for i, name in enumerate(names)}
    else:
        values = raw["train"][label_column]
        if any(v is None for v in values):
            raise ValueError(f"{where('train')}: data row {values.index(None)} (counted from 0) has no label")
        names = [str(v) for v in sorted(set(values))]
        to_id = {str(v): i for i, v in enumerate(sorted(set(values)))}

    def convert(split: str, dataset: Dataset) -> tuple[list[str], list[int] | None]:
        columns = [dataset[c] for c in text_columns]
        texts = []
        for row, parts in enumerate(zip(*columns)):
            if any(p is None for p in parts):
                raise ValueError(f"{where(split)}: data row {row} (counted from 0) has no text in {list(text_columns)}")
            texts.append(text_delimiter.join(str(p) for p in parts))
        if label_column not in dataset.column_names:
            return texts, None
        feature = dataset.features[label_column]
        values = dataset[label_column]
        missing = [row for row, v in enumerate(values) if v is None or (isinstance(feature, ClassLabel) and v < 0)]
        if split == "test" and len(missing) == len(values):  # e.g. GLUE's hidden test labels (-1): predict only
            return texts, None
        if missing:
            raise ValueError(f"{where(split)}: data row {missing[0]} (counted from 0) has no label "
                             f"({len(missing)} such rows)")
        keys = [feature.int2str(v) if isinstance(feature, ClassLabel) else str(v) for v in values]
        unknown = [(row, key) for row, key in enumerate(keys) if key not in to_id]
        if unknown:
            row, key = unknown[0]
            raise ValueError(
                f"{where(split)}: label {key!r} at data row {row} (counted from 0) does not occur in the training "
                f"labels {names} ({len(unknown)} such rows)"
            )
        return texts, [to_id[k] for k in keys]

    examples = {split: convert(split, dataset) for split, dataset in raw.items() if split in SPLITS}
    if "validation" not in examples:
        texts, labels = examples["train"]
        train_idx, val_idx = stratified_split(labels, [1.0 - validation_fraction, validation_fraction], seed=split_seed)
        examples["validation"] = ([texts[i] for i in val_idx], [labels[i] for i in val_idx])
        examples["train"] = ([texts[i] for i in train_idx], [labels[i] for i in train_idx])
    out = {}
    for split in SPLITS:
        if split not in examples:
            continue
        texts, labels = examples[split]
        if labels is None:
            out[split] = Dataset.from_dict({"text": texts}, features=Features({"text": Value("string")}))
        else:
            features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
            out[split] = Dataset.from_dict({"text": texts, "label": labels}, features=features)
    return DatasetDict(out)
