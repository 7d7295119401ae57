"""Soft targets from the lightweight teacher (paper Sec. 3.2.3, Eq. 3; Algorithm 2 lines 3-11).

Every real example of class c is mapped one-to-one to a SynMNIST example of class c, the teacher's
logits for that synthetic example are computed, and the "shift" swaps the teacher's argmax entry with
entry c so the true class carries the largest value. Logits (not probabilities) are stored: softmax is
monotone, so shifting logits equals shifting ``p^tau`` for every tau, and tau stays a training-time choice.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

from .columns import (
    TEACHER_LOGITS_COLUMN,
    check_labels,
    column_array,
    dataset_num_classes,
    label_column_of,
    logits_feature,
)

if TYPE_CHECKING:
    import datasets

    from .synthesis import MNISTSource
    from .teacher import Teacher


def shift_to_label(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Eq. 3: swap each row's argmax entry ``m`` with its label entry ``c`` (a no-op where ``m == c``).

    Ties resolve to the first maximal index, as ``argmax`` does; where ``c`` ties with the maximum the
    row is unchanged in value. Returns a new array.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(logits))
    argmax = logits.argmax(axis=1)
    shifted = logits.copy()
    shifted[rows, labels] = logits[rows, argmax]
    shifted[rows, argmax] = logits[rows, labels]
    return shifted


def true_class_probability(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean over rows of ``softmax(z / tau)[label]`` (Eq. 2): how much of the soft target sits on the true
    class; a one-hot target gives 1, label smoothing with epsilon gives ``1 - epsilon + epsilon / K``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(p[np.arange(len(p)), np.asarray(labels, dtype=np.int64)].mean()) if len(p) else float("nan")


def map_to_synthetic(real_labels: np.ndarray, synthetic_labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Algorithm 2 line 3: for each real example, the index of its synthetic partner of the same class.

    Within each class the synthetic examples are taken in a seeded random order, one per real example;
    the order cycles only where a class has more real examples than synthetic ones.
    """
    real_labels = np.asarray(real_labels, dtype=np.int64)
    synthetic_labels = np.asarray(synthetic_labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    mapping = np.empty(len(real_labels), dtype=np.int64)
    for c in np.unique(real_labels):
        real_idx = np.flatnonzero(real_labels == c)
        syn_idx = np.flatnonzero(synthetic_labels == c)
        if len(syn_idx) == 0:
            raise ValueError(f"class {c} has {len(real_idx)} real examples but no synthetic example to map them to")
        order = rng.permutation(syn_idx)
        mapping[real_idx] = order[np.arange(len(real_idx)) % len(order)]
    return mapping


def class_counts(labels: np.ndarray, num_classes: int) -> list[int]:
    """How many examples each class 0..K-1 has."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).tolist()


def add_teacher_logits(
    dataset: "datasets.Dataset",
    teacher: "Teacher",
    *,
    mnist: "MNISTSource | None" = None,
    synthetic: "datasets.Dataset | None" = None,
    column: str = TEACHER_LOGITS_COLUMN,
    seed: int = 0,
    dtype: str = "float32",
    batch_size: int = 1024,
    shift: bool = True,
    load_from_cache_file: bool | None = None,
) -> "datasets.Dataset":
    """Add LW-KD's shifted teacher logits as ``column`` to a dataset with an integer label column.

    Args:
        dataset: any ``datasets.Dataset`` with a ``label`` (or ``labels``) column of ints in 0..K-1.
        teacher: a trained ``Teacher`` with K classes.
        mnist: MNIST source (a folder of IDX files or a Hub id) for building the synthetic partners;
            defaults to the source the teacher was trained from; not used when ``synthetic`` is given.
        synthetic: a SynMNIST ``Dataset`` to draw partners from. By default one is built from MNIST's
            train digits with exactly the target dataset's class counts, so the mapping never cycles.
        column: the new column's name.
        dtype: its storage dtype, ``float32`` or ``float16``.
        seed: seeds both the synthetic set and the one-to-one mapping.
        shift: apply Eq. 3 (turned off only by ablations that want the raw teacher output).
    The column is computed with ``Dataset.map(batched=True)`` under a fingerprint of the inputs, so a
    dataset with cache files reuses the result of an identical earlier call.
    """
    from .synthesis import synmnist_arrays

    num_classes = teacher.config.num_classes
    if len(dataset) == 0:
        raise ValueError("cannot add teacher logits to an empty dataset (0 rows)")
    if column in dataset.column_names:
        raise ValueError(f"dataset already has a column {column!r}; remove it or choose another column name")
    label_column = label_column_of(dataset)
    declared = dataset_num_classes(dataset, label_column)
    if declared is not None and declared != num_classes:
        raise ValueError(
            f"the dataset's '{label_column}' feature has {declared} classes but the teacher has K={num_classes}; "
            f"train a teacher with --num-classes {declared}"
        )
    labels = column_array(dataset, label_column).astype(np.int64)
    check_labels(labels, num_classes, where=f"column '{label_column}'")

    if synthetic is None:
        mnist = mnist if mnist is not None else teacher.config.mnist_source
        counts = [max(1, n) for n in class_counts(labels, num_classes)]
        syn_images, syn_labels = synmnist_arrays(num_classes, counts, mnist=mnist, split="train", seed=seed)
        synthetic_id = {"mnist": str(mnist), "counts": counts}
    else:
        syn = synthetic.with_format("numpy")
        syn_images, syn_labels = syn["image"], syn["label"].astype(np.int64)
        synthetic_id = {"fingerprint": synthetic._fingerprint}
    mapping = map_to_synthetic(labels, syn_labels, seed=seed)

    teacher_digest = hashlib.sha256(
        b"".join(t.detach().cpu().numpy().tobytes() for t in teacher.model.state_dict().values())
    ).hexdigest()
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "dataset": dataset._fingerprint,
                "teacher": teacher_digest,
                "synthetic": synthetic_id,
                "seed": seed,
                "column": column,
                "dtype": dtype,
                "shift": shift,
                "version": 3,  # LeNet5 rounding: 2 channels-last, 3 conv3 as a matrix product (teacher_cache)
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:32]

    def compute(batch_labels, indices):
        logits = teacher.logits(syn_images[mapping[indices]])
        if shift:
            logits = shift_to_label(logits, np.asarray(batch_labels, dtype=np.int64))
        return {column: logits.astype(dtype)}

    features = dataset.features.copy()
    features[column] = logits_feature(num_classes, dtype)
    return dataset.map(
        compute,
        batched=True,
        batch_size=batch_size,
        with_indices=True,
        input_columns=[label_column],
        features=features,
        new_fingerprint=fingerprint,
        load_from_cache_file=load_from_cache_file,
        desc=f"Teacher logits ({column})",
    )


def shift_teacher_column(dataset: "datasets.Dataset", column: str = TEACHER_LOGITS_COLUMN) -> "datasets.Dataset":
    """Apply Eq. 3's shift to an existing teacher column (e.g. a lightweight teacher trained on the target data)."""
    label_column = label_column_of(dataset)
    return dataset.map(
        lambda batch: {column: shift_to_label(np.asarray(batch[column]), np.asarray(batch[label_column]))},
        batched=True,
        features=dataset.features,
        desc="Shift (Eq. 3)",
    )
