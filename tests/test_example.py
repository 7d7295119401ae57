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
