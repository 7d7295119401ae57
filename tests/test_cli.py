"""The `lwkd` command: `teacher` and `targets` on real MNIST digits and their errors; the help of every command."""

import json

import datasets
import numpy as np
import pytest

from lwkd_hf.cli import main as lwkd
from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.teacher import Teacher


def test_cli_teacher_then_targets(mnist_dir, tmp_path, capsys, labelled):
    out = tmp_path / "teacher"
    lwkd(["teacher", "--num-classes", "10", "--per-class", "40", "--epochs", "1",
          "--mnist-dir", str(mnist_dir), "--output", str(out)])
    config = json.loads((out / "config.json").read_text())
    assert config["num_classes"] == 10 and config["per_class"] == [40] * 10 and config["epochs"] == 1
    assert 0.0 <= config["test_accuracy"] <= 1.0 and config["test_examples"] == 10000
    assert Teacher.load(out).config.test_accuracy == config["test_accuracy"]

    labelled([3, 1, 4, 1, 5, 9, 2, 6]).save_to_disk(str(tmp_path / "ds"))
    lwkd(["targets", "--teacher", str(out), "--mnist-dir", str(mnist_dir),
          "--input", str(tmp_path / "ds"), "--output", str(tmp_path / "ds_lwkd")])
    result = datasets.load_from_disk(str(tmp_path / "ds_lwkd"))["train"]
    assert result.column_names == ["text", "label", TEACHER_LOGITS_COLUMN]
    assert (np.asarray(result[TEACHER_LOGITS_COLUMN]).argmax(axis=1) == [3, 1, 4, 1, 5, 9, 2, 6]).all()

    tsv = tmp_path / "news.tsv"
    tsv.write_text("text\tlabel\n甲\t0\n乙\t7\n", encoding="utf-8")
    lwkd(["targets", "--teacher", str(out), "--mnist-dir", str(mnist_dir), "--input", str(tsv),
          "--output", str(tmp_path / "tsv_lwkd"), "--dtype", "float16"])
    result = datasets.load_from_disk(str(tmp_path / "tsv_lwkd"))["train"]
    assert result["text"] == ["甲", "乙"] and np.asarray(result[TEACHER_LOGITS_COLUMN]).shape == (2, 10)


def test_cli_reports_bad_input_and_keeps_existing_output(tmp_path, mnist_dir, capsys):
    not_a_teacher = tmp_path / "nope"
    not_a_teacher.mkdir()
    (not_a_teacher / "config.json").write_text('{"model_type": "bert"}')
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("old")
    with pytest.raises(SystemExit) as exit_info:
        lwkd(["targets", "--teacher", str(not_a_teacher), "--mnist-dir", str(mnist_dir),
              "--input", str(tmp_path / "missing.csv"), "--output", str(existing)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "lwkd-lenet5" in err and "'bert'" in err
    assert (existing / "keep.txt").read_text() == "old"
    with pytest.raises(SystemExit, match="exists and is not empty"):
        lwkd(["teacher", "--num-classes", "10", "--per-class", "5", "--mnist-dir", str(mnist_dir),
              "--output", str(existing)])


def test_cli_teacher_without_per_class_takes_every_mnist_training_digit(mnist_dir, tmp_path):
    out = tmp_path / "teacher3"
    lwkd(["teacher", "--num-classes", "3", "--epochs", "1", "--mnist-dir", str(mnist_dir), "--output", str(out),
          "--device", "cpu"])
    config = json.loads((out / "config.json").read_text())
    assert config["per_class"] == [5923, 6742, 5958]  # MNIST's own training counts of digits 0, 1, 2 (Table 2's T1)


def test_help_is_plain_text_and_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        lwkd(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {command}" in text for command in ("train", "compare", "teacher", "targets"))
    assert "``" not in text and ":func:" not in text


def test_train_and_compare_take_their_scripts_arguments(capsys):
    for command, flag in (("train", "--method"), ("compare", "--seeds")):
        with pytest.raises(SystemExit) as exit_info:
            lwkd([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert flag in text and "--train_file" in text
