"""The shift of Eq. 3, the one-to-one mapping of Algorithm 2 line 3, and add_teacher_logits on real MNIST-backed teachers."""

import datasets
import numpy as np
import pytest

from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.soft_targets import add_teacher_logits, map_to_synthetic, shift_to_label, true_class_probability
from lwkd_hf.synthesis import synmnist_arrays
from lwkd_hf.teacher_training import train_teacher


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


def test_true_class_probability_is_the_mean_softened_probability_of_the_label():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 1.0]])
    labels = np.array([0, 2])
    tau = 2.0
    row0 = np.exp(1.0) / (np.exp(1.0) + 2)
    row1 = np.exp(0.5) / (1 + np.exp(1.5) + np.exp(0.5))
    assert true_class_probability(logits, labels, tau) == pytest.approx((row0 + row1) / 2, rel=1e-12)
    assert true_class_probability(np.zeros((4, 10)), np.arange(4), 6.0) == pytest.approx(0.1)


# --- add_teacher_logits on a real MNIST-backed teacher ------------------------------------------


@pytest.fixture(scope="module")
def teacher(mnist_dir):
    return train_teacher(10, 60, mnist=mnist_dir, epochs=1, test_per_class=20, progress=False)


def test_column_is_the_shifted_logits_of_the_mapped_synthetic_partners(teacher, mnist_dir, labelled):
    labels = np.random.default_rng(0).integers(0, 10, 120)
    out = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, seed=5)
    column = np.asarray(out[TEACHER_LOGITS_COLUMN], dtype=np.float32)
    assert column.shape == (120, 10) and out.features[TEACHER_LOGITS_COLUMN].feature.dtype == "float32"
    assert (column.argmax(axis=1) == labels).all()  # Eq. 3: the true class carries the maximum

    counts = np.bincount(labels, minlength=10).tolist()
    images, syn_labels = synmnist_arrays(10, counts, mnist=mnist_dir, split="train", seed=5)
    mapping = map_to_synthetic(labels, syn_labels, seed=5)
    assert len(set(mapping.tolist())) == 120  # one-to-one: no synthetic example used twice
    expected = shift_to_label(teacher.logits(images[mapping]), labels)
    np.testing.assert_allclose(column, expected, rtol=1e-5, atol=1e-5)


def test_float16_storage_and_unshifted_option(teacher, mnist_dir, labelled):
    labels = [0, 1, 2, 3] * 5
    half = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, dtype="float16")
    assert half.features[TEACHER_LOGITS_COLUMN].feature.dtype == "float16"
    raw = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, shift=False)
    np.testing.assert_allclose(
        np.asarray(half[TEACHER_LOGITS_COLUMN]), shift_to_label(np.asarray(raw[TEACHER_LOGITS_COLUMN]), labels), atol=2e-3
    )


def test_refuses_mismatched_k_and_bad_labels(teacher, mnist_dir, labelled):
    with pytest.raises(ValueError, match="has 15 classes but the teacher has K=10"):
        add_teacher_logits(labelled([0, 1], num_classes=15), teacher, mnist=mnist_dir)
    plain = datasets.Dataset.from_dict({"label": [0, 12, 3]})
    with pytest.raises(ValueError, match=r"label 12 at row 1 is outside 0..9"):
        add_teacher_logits(plain, teacher, mnist=mnist_dir)
    with pytest.raises(ValueError, match="empty"):
        add_teacher_logits(plain.select([]), teacher, mnist=mnist_dir)


def test_result_is_cached_by_fingerprint(teacher, mnist_dir, tmp_path, labelled):
    labelled(list(range(10)) * 3).save_to_disk(str(tmp_path / "ds"))
    on_disk = datasets.load_from_disk(str(tmp_path / "ds"))
    first = add_teacher_logits(on_disk, teacher, mnist=mnist_dir)
    second = add_teacher_logits(on_disk, teacher, mnist=mnist_dir)
    assert first.cache_files and first.cache_files == second.cache_files
    other_seed = add_teacher_logits(on_disk, teacher, mnist=mnist_dir, seed=1)
    assert other_seed.cache_files != first.cache_files
