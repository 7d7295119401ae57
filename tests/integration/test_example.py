"""`lwkd train` (lwkd_hf.scripts.train, which examples/run_text_classification.py runs) end to end on a few hundred
THUCNews headlines."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from lwkd_hf.provenance import sha256_file, tensors_sha256
from lwkd_hf.scripts import train as run_text_classification

from .conftest import TOPICS, headlines, write_csv

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "run_text_classification.py"

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
    assert set(record) >= {"data", "model", "method", "method_settings", "training", "lightweight_teacher",
                           "model_teacher", "soft_targets", "file_sha256", "machine", "git_commit", "versions"}
    assert record["method"]["method"] == "lwkd" and record["method_settings"]["soft_targets"] == "lightweight"
    training = record["training"]
    assert (training["alpha"], training["beta"], training["temperature"], training["kl_scaling"]) == (0.1, 0.1, 6.0, "none")
    assert training["discriminator_learning_rate"] == 1e-3 and training["seed"] == 42
    weights = tensors_sha256(load_file(out / "teacher" / "model.safetensors"))
    assert record["lightweight_teacher"] == teacher | {"weights_sha256": weights} and record["model_teacher"] is None
    assert record["data"]["max_seq_length"] == 32
    train_file = thucnews_dir / "train_first45000.txt"
    assert record["file_sha256"][str(train_file.resolve())] == sha256_file(train_file)
    assert len(record["file_sha256"]) == len(list(thucnews_dir.iterdir())) + len(list(mnist_dir.iterdir()))
    assert record["machine"]["cpu_count"] == os.cpu_count() and record["machine"]["cpu"]
    assert 0.1 < record["soft_targets"]["true_class_probability"] < 1.0  # shifted: the label is the largest entry


def test_run_config_records_lsr_and_tfkd_targets_exactly(thucnews_dir, tmp_path):
    run_text_classification.main(quick_args(thucnews_dir, tmp_path / "lsr", "lsr", "fasttext", "--lsr_epsilon", "0.2",
                                            "--config_overrides", "ngram_buckets=100,embedding_dim=16"))
    record = json.loads((tmp_path / "lsr" / "run_config.json").read_text())
    assert record["training"]["label_smoothing_factor"] == 0.2 and record["training"]["alpha"] == 0.0
    assert record["training"]["keep_freed_memory"] is False  # glibc's malloc settings left alone unless asked
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
        teacher = json.loads((out / "run_config.json").read_text())["model_teacher"]
        assert teacher == {"path": str(sup_run.resolve()), "model_type": "lwkd-textcnn", "architectures": ["TextCNN"],
                           "weights_sha256": {"model.safetensors": tensors_sha256(load_file(sup_run / "model.safetensors"))},
                           "test_accuracy": results(sup_run)["test_accuracy"],
                           "git_commit": json.loads((sup_run / "run_config.json").read_text())["git_commit"]}


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


# ---- your own data and model: files with other column names, string labels, a local checkpoint ----

def predicted_labels(output_dir, texts):
    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=32, return_tensors="pt")
    logits = model(**encoded).logits
    return [model.config.id2label[i] for i in logits.argmax(-1).tolist()]


def own_data_args(output_dir, checkpoint, mnist_dir, *extra):
    return ["--model_name_or_path", str(checkpoint), "--method", "lwkd", "--mnist_dir", str(mnist_dir),
            "--teacher_per_class", "50", "--teacher_epochs", "1", "--text_column_name", "title",
            "--label_column_name", "topic", "--output_dir", str(output_dir), "--num_train_epochs", "1",
            "--per_device_train_batch_size", "16", "--disable_tqdm", "true", "--report_to", "none", *extra]


def test_own_csv_with_string_labels_and_a_local_checkpoint(thucnews_dir, mnist_dir, tiny_checkpoint, tmp_path):
    write_csv(tmp_path / "train.csv", headlines(thucnews_dir, 40), ["title", "topic"])
    write_csv(tmp_path / "dev.csv", headlines(thucnews_dir, 8, offset=40), ["title", "topic"])
    test_rows = headlines(thucnews_dir, 6, offset=60)
    write_csv(tmp_path / "test.csv", test_rows, ["title", "topic"])
    out = tmp_path / "out"
    run_text_classification.main(own_data_args(
        out, tiny_checkpoint, mnist_dir, "--train_file", str(tmp_path / "train.csv"),
        "--validation_file", str(tmp_path / "dev.csv"), "--test_file", str(tmp_path / "test.csv"),
        "--do_train", "--do_eval", "--do_predict"))

    metrics = results(out)
    assert metrics["train_samples"] == 120 and metrics["eval_samples"] == 24 and metrics["test_samples"] == 18
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "finance", "1": "realty", "2": "stocks"}  # sorted string labels
    teacher = json.loads((out / "run_config.json").read_text())["lightweight_teacher"]
    assert teacher["num_classes"] == 3 and teacher["per_class"] == [50] * 3
    lines = (out / "predict_results.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 19
    written = [line.split("\t")[1] for line in lines[1:]]
    # the saved model and tokenizer classify raw text again, as the run predicted
    assert predicted_labels(out, [row["title"] for row in test_rows]) == written
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## LW-KD" in card and "kl_scaling: `none`" in card and "SynMNIST-3" in card
    assert teacher["mnist_sha256"] in card


def test_own_jsonl_without_validation_and_an_unlabelled_test_file(thucnews_dir, mnist_dir, tiny_checkpoint, tmp_path):
    train = headlines(thucnews_dir, 40)
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in train), encoding="utf-8")
    unlabelled = [{"title": r["title"]} for r in headlines(thucnews_dir, 3, offset=60)]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in unlabelled),
                                         encoding="utf-8")
    out = tmp_path / "out"
    run_text_classification.main(own_data_args(
        out, tiny_checkpoint, mnist_dir, "--train_file", str(tmp_path / "train.jsonl"),
        "--test_file", str(tmp_path / "test.jsonl"), "--do_train", "--do_predict", "--do_eval", "false",
        "--max_predict_samples", "2"))
    metrics = results(out)
    assert metrics["train_samples"] == 114  # 6 of 120 (5 %, 2 per class) carved out as validation
    assert "test_accuracy" not in metrics and not (out / "eval_results.json").exists()  # --do_eval false
    lines = (out / "predict_results.txt").read_text(encoding="utf-8").splitlines()
    rows = [int(line.split("\t")[0]) for line in lines[1:]]
    assert len(rows) == 2 and set(rows) <= set(range(len(unlabelled)))  # rows of the test file, two picked
    assert [line.split("\t")[1] for line in lines[1:]] == predicted_labels(out, [unlabelled[r]["title"] for r in rows])


def test_own_data_errors_name_the_file_and_row_before_training(thucnews_dir, tiny_checkpoint, mnist_dir, tmp_path):
    write_csv(tmp_path / "train.csv", headlines(thucnews_dir, 5), ["title", "topic"])
    dev = headlines(thucnews_dir, 2, offset=5) + [{"title": "一条新闻", "topic": "sports"}]
    write_csv(tmp_path / "dev.csv", dev, ["title", "topic"])
    base = own_data_args(tmp_path / "out", tiny_checkpoint, mnist_dir, "--train_file", str(tmp_path / "train.csv"))
    with pytest.raises(ValueError, match=r"dev\.csv: label 'sports' at data row 6 \(counted from 0\) does not occur in the training labels"):
        run_text_classification.main(base + ["--validation_file", str(tmp_path / "dev.csv")])
    with pytest.raises(ValueError, match=r"train\.csv: text column\(s\) \['headline'\] not found"):
        run_text_classification.main(base + ["--text_column_name", "headline"])
    with pytest.raises(ValueError, match="--do_predict needs a test split"):
        run_text_classification.main(base + ["--do_train", "--do_predict"])
    with pytest.raises(ValueError, match="without --do_train needs --model_name_or_path"):
        run_text_classification.main(["--train_file", str(tmp_path / "train.csv"), "--text_column_name", "title",
                                      "--label_column_name", "topic", "--do_eval", "--output_dir", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="give exactly one data source"):
        run_text_classification.main(base + ["--dataset", "thucnews", "--data_dir", str(thucnews_dir)])
    assert not (tmp_path / "out" / "all_results.json").exists()


def test_hub_dataset_offline_says_so(tiny_checkpoint, mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = own_data_args(tmp_path / "out", tiny_checkpoint, mnist_dir, "--dataset_name", "someone/news-headlines")
    with pytest.raises(ValueError, match=r"could not load dataset 'someone/news-headlines' \(configuration None\) "
                                         r"from the Hugging Face Hub \(offline mode is on"):
        run_text_classification.main(args)


def test_kd_teacher_logits_use_the_teachers_training_length(thucnews_dir, tiny_checkpoint, sup_run, tmp_path):
    # the tiny checkpoint's tokenizer has no length of its own (model_max_length = VERY_LARGE_INTEGER): padding to it
    # failed; its logits are now computed at the student's --max_seq_length, and a run of this script records its own
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    assert tokenizer.model_max_length > 10**9
    assert run_text_classification.model_teacher_length(str(tiny_checkpoint), 24) == 24
    assert run_text_classification.model_teacher_length(str(sup_run), 24) == 32  # from its run_config.json
    train = headlines(thucnews_dir, 20)
    write_csv(tmp_path / "train.csv", train, ["title", "topic"])
    write_csv(tmp_path / "dev.csv", headlines(thucnews_dir, 2, offset=20), ["title", "topic"])
    out = tmp_path / "kd"
    run_text_classification.main([
        "--train_file", str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "dev.csv"),
        "--text_column_name", "title", "--label_column_name", "topic",
        "--model", "fasttext", "--config_overrides", "ngram_buckets=100,embedding_dim=16", "--method", "kd",
        "--kd_teacher_dir", str(tiny_checkpoint), "--max_seq_length", "24", "--output_dir", str(out),
        "--num_train_epochs", "1", "--disable_tqdm", "true", "--report_to", "none"])
    record = json.loads((out / "run_config.json").read_text())
    assert record["method"]["kd_teacher_dir"] == str(tiny_checkpoint) and record["training"]["beta"] == 0.0
    # the column holds the teacher's logits for the training texts padded to 24 tokens
    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint).eval()
    encoded = tokenizer([r["title"] for r in train], padding="max_length", truncation=True, max_length=24,
                        return_tensors="pt")
    assert encoded["input_ids"].shape[1] == 24
    with torch.no_grad():
        probs = torch.softmax(teacher(**encoded).logits / 6.0, dim=-1)
    ids = torch.tensor([sorted(TOPICS.values()).index(r["topic"]) for r in train])
    expected = probs[torch.arange(len(train)), ids].mean().item()
    assert record["soft_targets"]["true_class_probability"] == pytest.approx(expected, rel=1e-5)
