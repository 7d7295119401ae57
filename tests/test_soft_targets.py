"""The shift of Eq. 3, the one-to-one mapping of Algorithm 2 line 3, and the column checks."""

import datasets
import numpy as np
import pytest

from lwkd_hf.soft_targets import map_to_synthetic, shift_to_label, true_class_probability, validate_teacher_column


def test_shift_leaves_row_alone_when_argmax_is_the_label():
    row = np.array([[0.1, 3.0, -1.0]])
    np.testing.assert_array_equal(shift_to_label(row, [1]), row)


def test_shift_swaps_argmax_with_label():
    rows = np.array([[5.0, 1.0, 2.0, 0.5], [0.0, -1.0, -2.0, 7.0]])
    out = shift_to_label(rows, [2, 0])
    np.testing.assert_array_equal(out, [[2.0, 1.0, 5.0, 0.5], [7.0, -1.0, -2.0, 0.0]])
    assert (out.argmax(axis=1) == [2, 0]).all()
    np.testing.assert_array_equal(rows, [[5.0, 1.0, 2.0, 0.5], [0.0, -1.0, -2.0, 7.0]])  # input untouched


def test_shift_with_ties():
    # two maxima; the label is neither: the first maximum (index 0) moves to the label
    np.testing.assert_array_equal(shift_to_label(np.array([[3.0, 3.0, 1.0]]), [2]), [[1.0, 3.0, 3.0]])
    # the label is one of the tied maxima: values unchanged
    np.testing.assert_array_equal(shift_to_label(np.array([[3.0, 3.0, 1.0]]), [1]), [[3.0, 3.0, 1.0]])


def test_shift_keeps_multiset_and_dtype():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 10)).astype(np.float16)
    labels = rng.integers(0, 10, 50)
    out = shift_to_label(rows, labels)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(rows, axis=1))
    np.testing.assert_array_equal(out[np.arange(50), labels], rows.max(axis=1))


def test_mapping_is_one_to_one_within_class():
    real = np.array([0, 1, 0, 1, 0, 2])
    synthetic = np.array([2, 0, 0, 0, 1, 1, 1, 2])
    mapping = map_to_synthetic(real, synthetic, seed=3)
    assert (synthetic[mapping] == real).all()
    assert len(set(mapping[real == 0])) == 3 and len(set(mapping[real == 1])) == 2
    np.testing.assert_array_equal(mapping, map_to_synthetic(real, synthetic, seed=3))
    assert not np.array_equal(
        map_to_synthetic(np.zeros(30, int), np.zeros(30, int), seed=1),
        map_to_synthetic(np.zeros(30, int), np.zeros(30, int), seed=2),
    )


def test_mapping_cycles_only_when_class_has_more_real_examples():
    real = np.zeros(7, dtype=int)
    synthetic = np.array([0, 0, 0])
    mapping = map_to_synthetic(real, synthetic, seed=0)
    assert sorted(np.bincount(mapping, minlength=3).tolist()) == [2, 2, 3]
    np.testing.assert_array_equal(mapping[3:6], mapping[0:3])


def test_mapping_refuses_class_without_synthetic_examples():
    with pytest.raises(ValueError, match="class 1 has 1 real examples but no synthetic"):
        map_to_synthetic(np.array([0, 1]), np.array([0, 0]))


def _dataset(logits, labels):
    return datasets.Dataset.from_dict({"teacher_logits": logits, "label": labels})


def test_validate_accepts_good_column():
    validate_teacher_column(_dataset([[1.0, 2.0, 0.0]] * 4, [0, 1, 2, 0]), "teacher_logits", 3)


@pytest.mark.parametrize(
    "logits,labels,num_labels,message",
    [
        ([[1.0, 2.0]] * 2, [0, 1], 3, "has width 2 but the model has num_labels=3"),
        ([[1.0, float("nan"), 0.0], [1.0, 2.0, 3.0]], [0, 1], 3, r"row 0 holds NaN or inf"),
        ([[1.0, 2.0, 0.0], [1.0, float("inf"), 0.0]], [0, 1], 3, r"row 1 holds NaN or inf"),
        ([[1.0, 2.0, 0.0]] * 3, [0, 3, 1], 3, r"label 3 at row 1 is outside 0..2"),
        ([[1.0, 2.0, 0.0]] * 2, [-1, 0], 3, r"label -1 at row 0 is outside 0..2"),
    ],
)
def test_validate_names_the_problem(logits, labels, num_labels, message):
    with pytest.raises(ValueError, match=message):
        validate_teacher_column(_dataset(logits, labels), "teacher_logits", num_labels)


def test_validate_missing_column_and_empty_dataset():
    with pytest.raises(ValueError, match="has no column 'teacher_logits'"):
        validate_teacher_column(datasets.Dataset.from_dict({"label": [0]}), "teacher_logits", 3)
    with pytest.raises(ValueError, match="empty"):
        validate_teacher_column(_dataset([], []), "teacher_logits", 3)


def test_true_class_probability_is_the_mean_softened_probability_of_the_label():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 1.0]])
    labels = np.array([0, 2])
    tau = 2.0
    row0 = np.exp(1.0) / (np.exp(1.0) + 2)
    row1 = np.exp(0.5) / (1 + np.exp(1.5) + np.exp(0.5))
    assert true_class_probability(logits, labels, tau) == pytest.approx((row0 + row1) / 2, rel=1e-12)
    assert true_class_probability(np.zeros((4, 10)), np.arange(4), 6.0) == pytest.approx(0.1)
