"""Accuracy and macro-F1 as local ``evaluate`` metrics, so evaluation needs no Hub download; the expected
calibration error beside them.

``evaluate.load("accuracy")`` fetches a script from the Hub. The classes here are ``evaluate.Metric``
subclasses with the same inputs and outputs, so ``compute``, ``add_batch`` and ``evaluate.combine``
work as usual; ``load_metric`` returns them by name and falls back to ``evaluate.load`` otherwise.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

_FEATURES = datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")})


class Accuracy(evaluate.Metric):
    """Fraction of predictions equal to their references."""

    def _info(self):
        return evaluate.MetricInfo(
            description="Accuracy: the fraction of correct predictions.", citation="", features=_FEATURES
        )

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions), np.asarray(references)
        return {"accuracy": float((predictions == references).mean())}


class MacroF1(evaluate.Metric):
    """F1 averaged over the classes that occur in predictions or references (scikit-learn's ``average="macro"``)."""

    def _info(self):
        return evaluate.MetricInfo(description="Macro-averaged F1 score.", citation="", features=_FEATURES)

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions), np.asarray(references)
        scores = []
        for c in np.union1d(predictions, references):
            tp = np.sum((predictions == c) & (references == c))
            denominator = np.sum(predictions == c) + np.sum(references == c)
            scores.append(2.0 * tp / denominator)
        return {"f1": float(np.mean(scores))}


LOCAL_METRICS = {"accuracy": Accuracy, "f1": MacroF1, "macro_f1": MacroF1}


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """A local metric by name (``accuracy``, ``f1``/``macro_f1``), else ``evaluate.load(name)``."""
    if name in LOCAL_METRICS:
        return LOCAL_METRICS[name](**kwargs)
    return evaluate.load(name, **kwargs)


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE (Guo et al., 2017): the confidence (largest softmax probability) of each example put in ``bins``
    equal-width bins of (0, 1]; the mean over examples of |accuracy - mean confidence| of their bin."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    confidence, correct = probs.max(axis=-1), probs.argmax(axis=-1) == np.asarray(labels)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    gap = 0.0
    for b in np.unique(which):
        in_bin = which == b
        gap += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(gap / len(labels))


def compute_metrics(eval_pred) -> dict[str, float]:
    """A ready ``compute_metrics`` for ``Trainer``: ``accuracy`` and ``macro_f1`` of argmax predictions, and
    ``ece`` (``expected_calibration_error``, 15 bins); with it, ``eval_loss`` is the test NLL.

    The metrics are kept in memory: every process may call this with the gathered predictions.
    """
    logits, labels = eval_pred
    if isinstance(logits, tuple):
        logits = logits[0]
    predictions = np.asarray(logits).argmax(axis=-1)
    return {
        "accuracy": Accuracy(keep_in_memory=True).compute(predictions=predictions, references=labels)["accuracy"],
        "macro_f1": MacroF1(keep_in_memory=True).compute(predictions=predictions, references=labels)["f1"],
        "ece": expected_calibration_error(logits, labels),
    }
