"""The teacher column: the contract between whatever fills it and ``LWKDTrainer``, which reads it.

A teacher column holds K logits per row (``datasets.List(Value("float32" | "float16"), length=K)``) beside
an integer label column (``label`` or ``labels``, values 0..K-1). ``add_teacher_logits``
(LW-KD) and the baselines' fillers (``lwkd_hf.baselines``) write it; the trainer checks it with
``validate_teacher_column`` before training and reads it by the name in ``LWKDConfig.teacher_logits_column``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import datasets

#: The column's default name, everywhere a name can be chosen.
TEACHER_LOGITS_COLUMN = "teacher_logits"
#: Storage dtypes a teacher column may have.
LOGIT_DTYPES = ("float32", "float16")
#: Names a label column may have, in the order they are looked up.
LABEL_COLUMNS = ("label", "labels")


def check_labels(labels: np.ndarray, num_classes: int, where: str, first_row: int = 0) -> None:
    """Raise ``ValueError`` naming the first label outside ``0..K-1`` (rows counted from ``first_row``)."""
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ValueError(
            f"{where}: label {labels[bad[0]]} at row {first_row + bad[0]} is outside 0..{num_classes - 1} "
            f"({len(bad)} such rows); the teacher has K={num_classes} classes"
        )


def label_column_of(dataset: "datasets.Dataset") -> str:
    """The dataset's integer label column: ``label`` or ``labels``."""
    for name in LABEL_COLUMNS:
        if name in dataset.column_names:
            return name
    raise ValueError(f"dataset has no 'label' or 'labels' column (columns: {dataset.column_names})")


def column_array(dataset: "datasets.Dataset", name: str) -> np.ndarray:
    """One column as a NumPy array, (N,) or (N, K) (floats as float32), read through Arrow (``dataset[name]``
    builds Python lists: about a second per 45,000 rows). An empty dataset gives an empty (0,) array."""
    return dataset.with_format("numpy", columns=[name])[:][name]


def dataset_num_classes(dataset: "datasets.Dataset", label_column: str) -> int | None:
    """K declared by a ``ClassLabel`` label feature, or None for a plain integer column."""
    feature = dataset.features[label_column]
    return getattr(feature, "num_classes", None)


def logits_feature(num_classes: int, dtype: str = "float32"):
    """The ``datasets`` feature of a teacher-logits column: a fixed-length list of K floats."""
    import datasets

    if dtype not in LOGIT_DTYPES:
        raise ValueError(f"logit dtype must be one of {LOGIT_DTYPES}, got {dtype!r}")
    return datasets.List(datasets.Value(dtype), length=num_classes)


def validate_teacher_column(
    dataset: "datasets.Dataset", column: str, num_labels: int, where: str = "train_dataset", chunk_size: int = 65536
) -> None:
    """Check a teacher-logits column before training: present, non-empty, K wide, finite, labels in range.

    Raises ``ValueError`` naming the dataset, the column, the row and expected vs. got.
    """
    if len(dataset) == 0:
        raise ValueError(f"{where} is empty (0 rows)")
    if column not in dataset.column_names:
        raise ValueError(
            f"{where} has no column {column!r} (columns: {dataset.column_names}); add it with "
            "`lwkd targets` / add_teacher_logits, or train without a teacher (alpha=0 and beta=0)"
        )
    label_column = label_column_of(dataset)
    view = dataset.with_format("numpy", columns=[column, label_column])
    for start in range(0, len(dataset), chunk_size):
        chunk = view[start : start + chunk_size]
        values, labels = chunk[column], chunk[label_column]
        if values.dtype == object or values.ndim != 2:
            raise ValueError(f"{where}[{column!r}] must hold rows of equal length K={num_labels}; got ragged rows")
        if values.shape[1] != num_labels:
            raise ValueError(
                f"{where}[{column!r}] has width {values.shape[1]} but the model has num_labels={num_labels}"
            )
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            row = start + int(np.flatnonzero(~finite)[0])
            raise ValueError(f"{where}[{column!r}] row {row} holds NaN or inf: {values[row - start].tolist()}")
        check_labels(labels, num_labels, where=f"{where}[{label_column!r}]", first_row=start)
