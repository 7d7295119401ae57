"""add_teacher_logits on real MNIST-backed teachers, and the `lwkd teacher` / `lwkd targets` commands."""

import json

import datasets
import numpy as np
import pytest

from lwkd_hf.cli import main as lwkd
from lwkd_hf.soft_targets import add_teacher_logits, map_to_synthetic, shift_to_label
from lwkd_hf.synthesis import synmnist_arrays
from lwkd_hf.teacher import Teacher, train_teacher


@pytest.fixture(scope="module")
def teacher(mnist_dir):
    return train_teacher(10, 60, mnist=mnist_dir, epochs=1, test_per_class=20, progress=False)


def labelled(labels, num_classes=10):
    return datasets.Dataset.from_dict(
        {"text": [f"t{i}" for i in range(len(labels))], "label": list(labels)},
        features=datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(num_classes=num_classes)}
        ),
    )


def test_column_is_the_shifted_logits_of_the_mapped_synthetic_partners(teacher, mnist_dir):
    labels = np.random.default_rng(0).integers(0, 10, 120)
    out = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, seed=5)
    column = np.asarray(out["teacher_logits"], dtype=np.float32)
    assert column.shape == (120, 10) and out.features["teacher_logits"].feature.dtype == "float32"
    assert (column.argmax(axis=1) == labels).all()  # Eq. 3: the true class carries the maximum

    counts = np.bincount(labels, minlength=10).tolist()
    images, syn_labels = synmnist_arrays(10, counts, mnist=mnist_dir, split="train", seed=5)
    mapping = map_to_synthetic(labels, syn_labels, seed=5)
    assert len(set(mapping.tolist())) == 120  # one-to-one: no synthetic example used twice
    expected = shift_to_label(teacher.logits(images[mapping]), labels)
    np.testing.assert_allclose(column, expected, rtol=1e-5, atol=1e-5)


def test_float16_storage_and_unshifted_option(teacher, mnist_dir):
    labels = [0, 1, 2, 3] * 5
    half = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, dtype="float16")
    assert half.features["teacher_logits"].feature.dtype == "float16"
    raw = add_teacher_logits(labelled(labels), teacher, mnist=mnist_dir, shift=False)
    np.testing.assert_allclose(
        np.asarray(half["teacher_logits"]), shift_to_label(np.asarray(raw["teacher_logits"]), labels), atol=2e-3
    )


def test_refuses_mismatched_k_and_bad_labels(teacher, mnist_dir):
    with pytest.raises(ValueError, match="has 15 classes but the teacher has K=10"):
        add_teacher_logits(labelled([0, 1], num_classes=15), teacher, mnist=mnist_dir)
    plain = datasets.Dataset.from_dict({"label": [0, 12, 3]})
    with pytest.raises(ValueError, match=r"label 12 at row 1 is outside 0..9"):
        add_teacher_logits(plain, teacher, mnist=mnist_dir)
    with pytest.raises(ValueError, match="empty"):
        add_teacher_logits(plain.select([]), teacher, mnist=mnist_dir)


def test_result_is_cached_by_fingerprint(teacher, mnist_dir, tmp_path):
    labelled(list(range(10)) * 3).save_to_disk(str(tmp_path / "ds"))
    on_disk = datasets.load_from_disk(str(tmp_path / "ds"))
    first = add_teacher_logits(on_disk, teacher, mnist=mnist_dir)
    second = add_teacher_logits(on_disk, teacher, mnist=mnist_dir)
    assert first.cache_files and first.cache_files == second.cache_files
    other_seed = add_teacher_logits(on_disk, teacher, mnist=mnist_dir, seed=1)
    assert other_seed.cache_files != first.cache_files


def test_cli_teacher_then_targets(mnist_dir, tmp_path, capsys):
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
    assert result.column_names == ["text", "label", "teacher_logits"]
    assert (np.asarray(result["teacher_logits"]).argmax(axis=1) == [3, 1, 4, 1, 5, 9, 2, 6]).all()

    tsv = tmp_path / "news.tsv"
    tsv.write_text("text\tlabel\n甲\t0\n乙\t7\n", encoding="utf-8")
    lwkd(["targets", "--teacher", str(out), "--mnist-dir", str(mnist_dir), "--input", str(tsv),
          "--output", str(tmp_path / "tsv_lwkd"), "--dtype", "float16"])
    result = datasets.load_from_disk(str(tmp_path / "tsv_lwkd"))["train"]
    assert result["text"] == ["甲", "乙"] and np.asarray(result["teacher_logits"]).shape == (2, 10)


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
