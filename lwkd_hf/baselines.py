"""The soft-target columns of the baselines LW-KD is compared with (paper Sec. 4.2, Table 1).

Each baseline fills the same column that ``LWKDTrainer`` reads, so one trainer trains
them all; plain supervision (``sup``) and label smoothing (``lsr``) need no column (``alpha = beta = 0``,
``label_smoothing_factor``).

- ``tfkd``: Tf-KD's virtual teacher (Yuan et al. 2019, Eq. 9 of their paper): probability ``a`` on the
  true class and ``(1 - a) / (K - 1)`` elsewhere, softened with temperature. Stored as ``log p`` so
  that ``softmax(column / tau) = p^(1/tau) / Z``, the temperature-softened virtual distribution.
- ``tfkd-legacy``: what the official Tf-KD code (``loss_kd_regularization``) does: it applies
  ``softmax(p / T)`` to the *probabilities* ``p`` as if they were logits, which at T=20 makes the
  target almost uniform. Stored as ``p`` itself. The code's other differences from its paper are
  listed in ``docs/design.md``.
- ``kd``: a trained classifier's logits, unshifted (vanilla KD, Hinton et al. 2015).
- ``kd-shuffle``: per row, every entry but the maximum randomly permuted (paper Table 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .columns import TEACHER_LOGITS_COLUMN, check_labels, column_array, label_column_of, logits_feature

if TYPE_CHECKING:
    import datasets


def virtual_teacher_probs(labels: np.ndarray, num_classes: int, correct_prob: float) -> np.ndarray:
    """Tf-KD's hand-made distribution: ``a`` on the label, ``(1 - a) / (K - 1)`` on every other class."""
    if not 0.0 < correct_prob < 1.0:
        raise ValueError(f"the virtual teacher's correct-class probability must be in (0, 1), got {correct_prob}")
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.full((len(labels), num_classes), (1.0 - correct_prob) / (num_classes - 1), dtype=np.float64)
    probs[np.arange(len(labels)), labels] = correct_prob
    return probs


def tfkd_logits(labels: np.ndarray, num_classes: int, correct_prob: float = 0.9) -> np.ndarray:
    """Column values for ``tfkd``: ``log p`` of the virtual teacher (softmax of it at tau=1 gives ``p``)."""
    return np.log(virtual_teacher_probs(labels, num_classes, correct_prob)).astype(np.float32)


def tfkd_legacy_logits(labels: np.ndarray, num_classes: int, correct_prob: float = 0.99) -> np.ndarray:
    """Column values for ``tfkd-legacy``: the probabilities themselves, used as logits as the official code does."""
    return virtual_teacher_probs(labels, num_classes, correct_prob).astype(np.float32)


def shuffle_except_max(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """KD-shuffle (paper Fig. 1b): per row, permute every entry except the (first) maximum, which stays put."""
    logits = np.asarray(logits)
    out = logits.copy()
    keep = logits.argmax(axis=1)
    for i, m in enumerate(keep):
        others = np.flatnonzero(np.arange(logits.shape[1]) != m)
        out[i, others] = logits[i, rng.permutation(others)]
    return out


def add_virtual_teacher_logits(
    dataset: "datasets.Dataset",
    num_classes: int,
    *,
    legacy: bool = False,
    correct_prob: float | None = None,
    column: str = TEACHER_LOGITS_COLUMN,
) -> "datasets.Dataset":
    """Add the ``tfkd`` (or, with ``legacy``, ``tfkd-legacy``) column; ``correct_prob`` defaults to 0.9 / 0.99."""
    label_column = label_column_of(dataset)
    check_labels(column_array(dataset, label_column), num_classes, where=f"column '{label_column}'")
    fill = tfkd_legacy_logits if legacy else tfkd_logits
    prob = correct_prob if correct_prob is not None else (0.99 if legacy else 0.9)
    features = dataset.features.copy()
    features[column] = logits_feature(num_classes)
    return dataset.map(
        lambda batch: {column: fill(np.asarray(batch[label_column]), num_classes, prob)},
        batched=True,
        features=features,
        desc=f"Virtual teacher ({'tfkd-legacy' if legacy else 'tfkd'})",
    )


def add_model_logits(
    dataset: "datasets.Dataset",
    model,
    tokenizer,
    *,
    text_column: str = "text",
    column: str = TEACHER_LOGITS_COLUMN,
    max_length: int | None = None,
    batch_size: int = 256,
) -> "datasets.Dataset":
    """Add a trained classifier's logits, unshifted (the ``kd`` column); raw text is tokenised with its tokenizer.

    Pass the ``max_length`` the teacher was trained with: rows are then padded to it, as in training.
    """
    import torch

    num_labels = model.config.num_labels
    label_column = label_column_of(dataset)
    check_labels(column_array(dataset, label_column), num_labels, where=f"column '{label_column}'")
    model.eval()
    device = next(model.parameters()).device

    def compute(batch):
        # pad as in training: CNN/RNN students read the padding, so the length changes their logits
        padding = "max_length" if max_length else True
        encoded = tokenizer(
            batch[text_column], padding=padding, truncation=True, max_length=max_length, return_tensors="pt"
        )
        names = set(tokenizer.model_input_names) & set(encoded)
        with torch.no_grad():
            logits = model(**{k: encoded[k].to(device) for k in names}).logits
        return {column: logits.float().cpu().numpy()}

    features = dataset.features.copy()
    features[column] = logits_feature(num_labels)
    return dataset.map(compute, batched=True, batch_size=batch_size, features=features, desc="Teacher model logits")


def shuffle_teacher_logits(dataset: "datasets.Dataset", *, column: str = TEACHER_LOGITS_COLUMN, seed: int = 0):
    """Turn a ``kd`` column into ``kd-shuffle``: every entry but each row's maximum permuted (seeded)."""
    rng = np.random.default_rng(seed)
    return dataset.map(
        lambda batch: {column: shuffle_except_max(np.asarray(batch[column]), rng).astype(np.float32)},
        batched=True,
        features=dataset.features,
        desc="KD-shuffle",
    )
