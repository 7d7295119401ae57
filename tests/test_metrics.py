"""The local metrics: accuracy, macro-F1 and the expected calibration error, on hand-made predictions."""

import math

import numpy as np
import pytest

from lwkd_hf.metrics import compute_metrics, expected_calibration_error


def logits_for(confidences):
    """Two-class logits whose softmax puts ``c`` on class 0."""
    return np.array([[math.log(c), math.log(1 - c)] for c in confidences])


def test_ece_by_hand():
    # confidences 0.9, 0.9 (one bin: accuracy 1/2, gap 0.4 each) and 0.6, 0.55 (one bin: both right, gaps 0.4, 0.45)
    logits, labels = logits_for([0.9, 0.9, 0.6, 0.55]), np.array([0, 1, 0, 0])
    assert expected_calibration_error(logits, labels) == pytest.approx((2 * 0.4 + 0.4 + 0.45) / 4)
    # perfectly calibrated: in one bin, confidence 0.75 and three of four right
    assert expected_calibration_error(logits_for([0.75] * 4), np.array([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-12)
    # five bins: 0.9 and 0.9 fall in the last
    assert expected_calibration_error(logits_for([0.9, 0.9]), np.array([0, 0]), bins=5) == pytest.approx(0.1)


def test_compute_metrics_reports_accuracy_macro_f1_and_ece():
    logits, labels = logits_for([0.9, 0.9, 0.6, 0.55]), np.array([0, 1, 0, 0])
    metrics = compute_metrics((logits, labels))
    # predictions 0, 0, 0, 0: class 0 F1 = 2*3/(4+3) = 6/7, class 1 F1 = 0
    assert metrics == pytest.approx({"accuracy": 0.75, "macro_f1": 3 / 7, "ece": (2 * 0.4 + 0.4 + 0.45) / 4})
