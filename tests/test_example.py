"""examples/run_text_classification.py end to end on a few hundred THUCNews headlines."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "run_text_classification.py"
sys.path.insert(0, str(SCRIPT.parent))

import run_text_classification  # noqa: E402

pytestmark = pytest.mark.slow


def quick_args(thucnews_dir, output_dir, method, model="textcnn", *extra):
    return [
        "--dataset", "thucnews", "--data_dir", str(thucnews_dir), "--model", model, "--method", method,
        "--output_dir", str(output_dir), "--max_train_samples", "256", "--max_eval_samples", "64",
        "--max_predict_samples", "64", "--num_train_epochs", "1", "--per_device_train_batch_size", "32",
        "--disable_tqdm", "true", "--report_to", "none", *extra,
    ]


def results(output_dir):
    return json.loads((Path(output_dir) / "all_results.json").read_text())


@pytest.fixture(scope="module")
def sup_run(thucnews_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sup")
    run_text_classification.main(quick_args(thucnews_dir, out, "sup"))
    return out


def test_sup_run_writes_metrics_and_a_reloadable_model(sup_run):
    metrics = results(sup_run)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_samples"] == 64
    assert metrics["train_samples"] == 256 and metrics["eval_samples"] == 64
    model = AutoModelForSequenceClassification.from_pretrained(sup_run)
    tokenizer = AutoTokenizer.from_pretrained(sup_run)
    encoded = tokenizer(["央行宣布下调存款准备金率"], padding="max_length", truncation=True, return_tensors="pt")
    assert encoded["input_ids"].shape == (1, 32)
    assert model(input_ids=encoded["input_ids"]).logits.shape == (1, 10)
    assert model.config.id2label[0] == "finance"


def test_lwkd_run_trains_a_teacher_and_logs_every_term(thucnews_dir, mnist_dir, tmp_path):
    out = tmp_path / "lwkd"
    run_text_classification.main(
        quick_args(thucnews_dir, out, "lwkd", "textcnn", "--mnist_dir", str(mnist_dir), "--teacher_per_class", "50",
                   "--teacher_epochs", "1", "--logging_steps", "2")
    )
    assert 0.0 <= results(out)["test_accuracy"] <= 1.0
    teacher = json.loads((out / "teacher" / "config.json").read_text())
    assert teacher["num_classes"] == 10 and teacher["per_class"] == [50] * 10
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [log for log in state["log_history"] if "loss" in log]
    assert logged and {"ce", "kl", "adv", "discriminator_loss", "discriminator_acc_real"} <= set(logged[0])

    record = json.loads((out / "run_config.json").read_text())  # every setting the run ran with
    assert set(record) == {"data", "model", "method", "method_settings", "training", "lightweight_teacher",
                           "soft_targets", "git_commit", "versions"}
    assert record["method"]["method"] == "lwkd" and record["method_settings"]["soft_targets"] == "lightweight"
    training = record["training"]
    assert (training["alpha"], training["beta"], training["temperature"], training["kl_scaling"]) == (0.5, 0.1, 6.0, "none")
    assert training["discriminator_learning_rate"] == 1e-3 and training["seed"] == 42
    assert record["lightweight_teacher"] == teacher and record["data"]["max_seq_length"] == 32
    assert 0.1 < record["soft_targets"]["true_class_probability"] < 1.0  # shifted: the label is the largest entry


def test_run_config_records_lsr_and_tfkd_targets_exactly(thucnews_dir, tmp_path):
    run_text_classification.main(quick_args(thucnews_dir, tmp_path / "lsr", "lsr", "fasttext", "--lsr_epsilon", "0.2",
                                            "--config_overrides", "ngram_buckets=100,embedding_dim=16"))
    record = json.loads((tmp_path / "lsr" / "run_config.json").read_text())
    assert record["training"]["label_smoothing_factor"] == 0.2 and record["training"]["alpha"] == 0.0
    assert record["soft_targets"]["true_class_probability"] == pytest.approx(1 - 0.2 + 0.2 / 10)
    run_text_classification.main(quick_args(thucnews_dir, tmp_path / "tfkd", "tfkd", "fasttext", "--temperature", "2",
                                            "--config_overrides", "ngram_buckets=100,embedding_dim=16"))
    record = json.loads((tmp_path / "tfkd" / "run_config.json").read_text())
    on_label, elsewhere = 0.9 ** 0.5, (0.1 / 9) ** 0.5  # softmax(log p / 2) = p^(1/2) / Z
    expected = on_label / (on_label + 9 * elsewhere)
    assert record["soft_targets"]["true_class_probability"] == pytest.approx(expected, rel=1e-5)


def test_early_stopping_ends_a_run_that_stops_improving(thucnews_dir, tmp_path):
    out = tmp_path / "stop"
    run_text_classification.main(quick_args(
        thucnews_dir, out, "sup", "fasttext", "--config_overrides", "ngram_buckets=100,embedding_dim=16",
        "--num_train_epochs", "20", "--learning_rate", "0", "--eval_strategy", "steps", "--eval_steps", "2",
        "--save_strategy", "steps", "--save_steps", "2", "--metric_for_best_model", "loss",
        "--early_stopping_patience", "1"))
    state = json.loads((out / "trainer_state.json").read_text())
    # lr 0: the second evaluation cannot improve on the first, so training stops there
    assert (state["best_global_step"], state["global_step"]) == (2, 4)
    assert results(out)["test_samples"] == 64  # the test evaluation after stopping still ran


def test_kd_and_kd_shuffle_distil_from_a_trained_run(thucnews_dir, sup_run, tmp_path):
    for method in ("kd", "kd-shuffle"):
        out = tmp_path / method
        run_text_classification.main(
            quick_args(thucnews_dir, out, method, "dpcnn", "--kd_teacher_dir", str(sup_run))
        )
        assert 0.0 <= results(out)["test_accuracy"] <= 1.0


def test_two_cpu_processes_under_accelerate_launch(thucnews_dir, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, ACCELERATE_USE_CPU="true")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(SCRIPT)]
    completed = subprocess.run(
        command + quick_args(thucnews_dir, out, "tfkd", "fasttext", "--config_overrides", "ngram_buckets=1000,embedding_dim=64"),
        env=env, cwd=REPO, capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    metrics = results(out)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["train_batch_size"] == 32 and state["global_step"] == 4  # 256 rows / (2 processes x 32)
