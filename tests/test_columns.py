"""The teacher-logits column checks (width, finite values, labels in range, presence, non-empty)."""

import datasets
import pytest

from lwkd_hf.columns import (
    TEACHER_LOGITS_COLUMN,
    column_array,
    logits_feature,
    validate_teacher_column,
)


def _dataset(logits, labels):
    return datasets.Dataset.from_dict({TEACHER_LOGITS_COLUMN: logits, "label": labels})


def test_validate_accepts_good_column():
    validate_teacher_column(_dataset([[1.0, 2.0, 0.0]] * 4, [0, 1, 2, 0]), TEACHER_LOGITS_COLUMN, 3)


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
        validate_teacher_column(_dataset(logits, labels), TEACHER_LOGITS_COLUMN, num_labels)


def test_validate_missing_column_and_empty_dataset():
    with pytest.raises(ValueError, match="has no column 'teacher_logits'"):
        validate_teacher_column(datasets.Dataset.from_dict({"label": [0]}), TEACHER_LOGITS_COLUMN, 3)
    with pytest.raises(ValueError, match="empty"):
        validate_teacher_column(_dataset([], []), TEACHER_LOGITS_COLUMN, 3)


def test_column_array_reads_labels_and_logits_as_arrays():
    rows = [[0.5, -1.0, 2.0], [1.0, 0.0, -0.25]]
    ds = datasets.Dataset.from_dict(
        {"text": ["a", "b"], "label": [2, 0], TEACHER_LOGITS_COLUMN: rows},
        features=datasets.Features({"text": datasets.Value("string"), "label": datasets.Value("int64"),
                                    TEACHER_LOGITS_COLUMN: logits_feature(3)}),
    )
    labels, logits = column_array(ds, "label"), column_array(ds, TEACHER_LOGITS_COLUMN)
    assert labels.tolist() == [2, 0] and labels.dtype == "int64"
    assert logits.shape == (2, 3) and logits.dtype == "float32" and logits.tolist() == rows
    assert ds.format["type"] is None  # the dataset itself keeps its format
