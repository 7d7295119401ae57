"""The teacher-logits column checks (width, finite values, labels in range, presence, non-empty) and the collator
that puts a table's rows back in a batch."""

import datasets
import pytest
import torch
from transformers import default_data_collator

from lwkd_hf.columns import (
    TEACHER_LOGITS_COLUMN,
    TEACHER_ROW_COLUMN,
    TeacherTableCollator,
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


def test_teacher_table_collator_puts_the_rows_logits_in_the_batch():
    table = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    features = [{"input_ids": [5, 6], TEACHER_ROW_COLUMN: 3}, {"input_ids": [7, 8], TEACHER_ROW_COLUMN: 1}]
    batch = TeacherTableCollator(default_data_collator, table, "soft")(features)
    assert sorted(batch) == ["input_ids", "soft"]
    assert batch["soft"].tolist() == [[9.0, 10.0, 11.0], [3.0, 4.0, 5.0]]
    assert batch["input_ids"].tolist() == [[5, 6], [7, 8]]

    def as_lists(rows):  # a collator that leaves the indices as a list
        return {key: [row[key] for row in rows] for key in rows[0]}

    batch = TeacherTableCollator(as_lists, table, "soft")(features[::-1])
    assert batch["soft"].tolist() == [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]
