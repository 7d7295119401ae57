"""LWKDTrainer: Eq. 8 in compute_loss, column handling, accumulation, logging, checkpoints, resume, mixed precision, errors."""

import copy
import inspect
import math
import os

import numpy as np
import pytest
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel, Trainer, TrainerCallback, default_data_collator
from transformers.modeling_outputs import SequenceClassifierOutput

from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.discriminator import Discriminator
from lwkd_hf.losses import adversarial_student_loss, discriminator_loss
from lwkd_hf.metrics import compute_metrics
from lwkd_hf.trainer import DISCRIMINATOR_OPTIMIZER_NAME, DISCRIMINATOR_WEIGHTS_NAME, LWKDTrainer

TERMS = ["ce", "kl", "adv", "discriminator_loss", "discriminator_acc_real", "discriminator_acc_fake"]


def first_batch(trainer):
    return next(iter(trainer.get_train_dataloader()))


def rows_of(batch, data) -> list[int]:
    """The dataset rows a batch holds, found by their (random, so unique) token ids."""
    where = {tuple(ids): row for row, ids in enumerate(data["input_ids"])}
    return [where[tuple(ids)] for ids in batch["input_ids"].tolist()]


def test_teacher_column_travels_through_trainers_own_loader(tmp_path, tiny_bert, make_args, toy_dataset):
    for data in (toy_dataset(), toy_dataset().shuffle(seed=1)):  # plain, and behind an indices mapping
        trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path), train_dataset=data)
        assert trainer.args.remove_unused_columns is True
        batch = first_batch(trainer)
        assert sorted(batch) == ["input_ids", "labels", TEACHER_LOGITS_COLUMN]
        rows = rows_of(batch, data)
        assert len(set(rows)) == 8 and batch[TEACHER_LOGITS_COLUMN].dtype == torch.float32
        expected = np.asarray(data[TEACHER_LOGITS_COLUMN], dtype=np.float32)[rows]
        assert np.array_equal(batch[TEACHER_LOGITS_COLUMN].numpy(), expected)
        assert np.array_equal(batch["labels"].numpy(), np.asarray(data["label"])[rows])
        assert trainer.train_dataset is data


def test_a_users_collator_reads_the_teacher_column(tmp_path, tiny_bert, make_args, toy_dataset):
    data, seen = toy_dataset().rename_column(TEACHER_LOGITS_COLUMN, "soft"), []

    def collator(features):  # a user's collator that looks at the teacher logits
        seen.extend(feature["soft"] for feature in features)
        return default_data_collator(features)

    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path, max_steps=2, teacher_logits_column="soft"),
                          train_dataset=data, data_collator=collator)
    trainer.train()
    assert len(seen) >= 16 and all(row in data["soft"] for row in seen)  # 16 trained on, more fetched ahead


def test_iterable_training_sets_keep_the_column_in_their_batches(tmp_path, tiny_bert, make_args, toy_dataset):
    data = toy_dataset().remove_columns("text").to_iterable_dataset()
    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path, max_steps=1), train_dataset=data)
    batch = first_batch(trainer)
    assert sorted(batch) == ["input_ids", "labels", TEACHER_LOGITS_COLUMN]
    assert batch[TEACHER_LOGITS_COLUMN].shape == (8, 4) and batch[TEACHER_LOGITS_COLUMN].dtype == torch.float32
    assert trainer.train().training_loss > 0


def np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_compute_loss_is_eq8_and_gradients_stay_apart(tmp_path, tiny_bert, make_args, toy_dataset):
    args = make_args(tmp_path, alpha=0.3, beta=0.2, temperature=2.0, kl_scaling="tau2")
    data = toy_dataset()
    trainer = LWKDTrainer(model=tiny_bert(), args=args, train_dataset=data)
    batch = first_batch(trainer)
    model = trainer.model.train()
    loss = trainer.compute_loss(model, dict(batch))

    with torch.no_grad():
        z_s = model(input_ids=batch["input_ids"]).logits.double().numpy()
        z_t = np.asarray(data[TEACHER_LOGITS_COLUMN], dtype=np.float64)[rows_of(batch, data)]
        y = batch["labels"].numpy()
        ce = -np_log_softmax(z_s)[np.arange(len(y)), y].mean()
        log_pt, log_ps = np_log_softmax(z_t / 2.0), np_log_softmax(z_s / 2.0)
        kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean() * 4.0
        d_student = trainer.discriminator(torch.tensor(np.exp(log_ps), dtype=torch.float32)).double().numpy()
        adv = np.log(1 - 1 / (1 + np.exp(-d_student))).mean()
    assert loss.item() == pytest.approx(0.7 * ce + 0.3 * kl + 0.2 * adv, rel=1e-5)

    # before a backward pass nothing has a gradient; one backward pass gives D the gradient of its own loss, -L_ADV
    # (Eq. 7, the student's rows constant), and the student that of Eq. 8 with D's weights constant
    assert all(p.grad is None for p in [*model.parameters(), *trainer.discriminator.parameters()])
    reference = copy.deepcopy(trainer.discriminator)
    p_s, p_t = (torch.tensor(np.exp(log_p), dtype=torch.float32) for log_p in (log_ps, log_pt))
    discriminator_loss(reference(p_t), reference(p_s)).backward()
    reference.requires_grad_(False)
    student = copy.deepcopy(model)
    z = student(input_ids=batch["input_ids"]).logits
    log_p_student = torch.log_softmax(z / 2.0, dim=-1)
    expected = (0.7 * torch.nn.functional.cross_entropy(z, batch["labels"])
                + 0.3 * 4.0 * torch.nn.functional.kl_div(log_p_student, torch.tensor(log_pt, dtype=torch.float32),
                                                         reduction="batchmean", log_target=True)
                + 0.2 * adversarial_student_loss(reference(log_p_student.exp())))
    expected.backward()
    loss.backward()
    for p, ref in zip(trainer.discriminator.parameters(), reference.parameters()):
        assert ref.grad.abs().sum() > 0
        torch.testing.assert_close(p.grad, ref.grad, rtol=1e-4, atol=1e-7)
    for (name, p), ref in zip(model.named_parameters(), student.parameters()):
        if ref.grad is not None:
            torch.testing.assert_close(p.grad, ref.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_non_saturating_option(tmp_path, tiny_bert, make_args, toy_dataset):
    trainer = LWKDTrainer(
        model=tiny_bert(), args=make_args(tmp_path, adversarial_loss="non_saturating", alpha=0.0, beta=1.0),
        train_dataset=toy_dataset(),
    )
    batch = first_batch(trainer)
    model = trainer.model.train()
    loss = trainer.compute_loss(model, dict(batch))
    with torch.no_grad():
        z_s = model(input_ids=batch["input_ids"]).logits
        ce = torch.nn.functional.cross_entropy(z_s, batch["labels"]).item()
        d = trainer.discriminator(torch.softmax(z_s / 6.0, dim=-1)).double().numpy()
    assert loss.item() == pytest.approx(ce - np.log(1 / (1 + np.exp(-d))).mean(), rel=1e-5)


def test_eval_dataset_without_column_reports_ce_and_metrics(tmp_path, tiny_bert, make_args, toy_dataset):
    train, evaluation = toy_dataset(), toy_dataset(32, seed=1, with_teacher=False)
    trainer = LWKDTrainer(
        model=tiny_bert(), args=make_args(tmp_path), train_dataset=train, eval_dataset=evaluation,
        compute_metrics=compute_metrics,
    )
    metrics = trainer.evaluate()
    with torch.no_grad():
        logits = trainer.model.eval()(input_ids=torch.tensor(evaluation["input_ids"])).logits
    labels = torch.tensor(evaluation["label"])
    assert metrics["eval_loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)
    assert metrics["eval_accuracy"] == pytest.approx((logits.argmax(-1) == labels).float().mean().item())
    assert "eval_macro_f1" in metrics
    # an eval set that has the column evaluates the same way
    with_column = trainer.evaluate(toy_dataset(32, seed=1))
    assert with_column["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-6)


@pytest.fixture
def trained_state(tiny_bert, make_args, toy_dataset):
    """``trained_state(tmp_path, name, model=None, **overrides)``: a trainer trained on the toy set in tmp_path/name."""

    def train(tmp_path, name, model=None, **overrides):
        trainer = LWKDTrainer(
            model=tiny_bert() if model is None else model, args=make_args(tmp_path / name, **overrides),
            train_dataset=toy_dataset(),
        )
        trainer.train()
        return trainer

    return train


def bag_model(seed: int = 0, return_tuple: bool = False):
    torch.manual_seed(seed)
    return (TupleBagModel if return_tuple else BagModel)(BagConfig())


# Trainer (transformers 5.0-5.18) skips its division by the accumulation steps when the model's forward takes
# **kwargs: BERT's does, BagModel's does not. LWKDTrainer's loss is a per-batch mean either way.
@pytest.mark.parametrize("model_kind,var_kwargs", [("bert", True), ("bag", False)], ids=["bert", "bag"])
@pytest.mark.parametrize("micro,steps", [(8, 2), (4, 2)], ids=["2x8", "2x4"])
def test_gradient_accumulation_equals_one_big_batch(tmp_path, trained_state, tiny_bert, model_kind, var_kwargs, micro, steps):
    make_model = {"bert": tiny_bert, "bag": bag_model}[model_kind]
    forward = inspect.signature(make_model().forward).parameters.values()
    assert any(p.kind == inspect.Parameter.VAR_KEYWORD for p in forward) is var_kwargs
    common = dict(max_steps=1, optim="sgd", learning_rate=0.5, lr_scheduler_type="constant", max_grad_norm=0.0)
    big = trained_state(tmp_path, "big", make_model(), per_device_train_batch_size=micro * steps,
                        gradient_accumulation_steps=1, **common)
    acc = trained_state(tmp_path, "acc", make_model(), per_device_train_batch_size=micro,
                        gradient_accumulation_steps=steps, **common)
    for key in ("loss", "ce", "kl", "adv"):  # the logged loss is the big batch's, not GA times it
        assert acc.state.log_history[0][key] == pytest.approx(big.state.log_history[0][key], rel=1e-5), key
    start = make_model().state_dict()
    moved = 0
    for name, value in big.model.state_dict().items():
        torch.testing.assert_close(acc.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)
        moved += int(not torch.equal(value, start[name]))
    assert moved == len(start) or moved > 10  # the update really changed the weights
    for a, b in zip(big.discriminator.parameters(), acc.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_compute_loss_func_is_refused(tmp_path, tiny_bert, make_args, toy_dataset):
    with pytest.raises(ValueError, match="compute_loss_func"):
        LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path), train_dataset=toy_dataset(),
                    compute_loss_func=lambda outputs, labels, num_items_in_batch=None: outputs["logits"].sum())


def test_terms_logged_every_logging_steps_as_averages(tmp_path, trained_state):
    every = trained_state(tmp_path, "every", max_steps=4, logging_steps=1)
    pairs = trained_state(tmp_path, "pairs", max_steps=4, logging_steps=2)
    step_logs = [log for log in every.state.log_history if "loss" in log]
    pair_logs = [log for log in pairs.state.log_history if "loss" in log]
    assert [log["step"] for log in step_logs] == [1, 2, 3, 4] and [log["step"] for log in pair_logs] == [2, 4]
    for log in step_logs + pair_logs:
        assert set(TERMS) <= set(log)
        assert 0.0 <= log["discriminator_acc_real"] <= 1.0
    for term in TERMS + ["loss"]:
        for i, pair in enumerate(pair_logs):
            mean = (step_logs[2 * i][term] + step_logs[2 * i + 1][term]) / 2
            assert pair[term] == pytest.approx(mean, abs=2e-6), term


def test_terms_are_kept_as_running_sums_whatever_the_logging_strategy(tmp_path, tiny_bert, make_args, toy_dataset):
    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path, max_steps=6, logging_strategy="no"),
                          train_dataset=toy_dataset())
    sizes = []
    trainer.add_callback(type("Sizes", (TrainerCallback,), {"on_step_end": lambda self, *a, **k: sizes.append(
        sum(t.numel() for t in trainer._term_sums.values()))})())
    trainer.train()
    assert sizes == [6] * 6  # six scalar sums after every step, not six more tensors a step
    assert not any("ce" in log for log in trainer.state.log_history)


def test_terms_left_from_an_earlier_train_call_are_not_logged(tmp_path, tiny_bert, make_args, toy_dataset):
    logged = []
    for leftover in (False, True):
        trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path / str(leftover), max_steps=1, logging_steps=1),
                              train_dataset=toy_dataset(seed=0))
        if leftover:  # terms of a batch that no log of this train() covers
            trainer.compute_loss(trainer.model.train(), first_batch(LWKDTrainer(
                model=tiny_bert(), args=make_args(tmp_path / "other"), train_dataset=toy_dataset(seed=5))))
        trainer.train()
        logged.append(trainer.state.log_history[0])
    for key in TERMS:
        assert logged[1][key] == pytest.approx(logged[0][key], abs=1e-6), key


def test_beta_zero_builds_no_discriminator(tmp_path, trained_state):
    trainer = trained_state(tmp_path, "nodisc", max_steps=2, beta=0.0)
    assert trainer.discriminator is None and trainer.discriminator_optimizer is None
    log = trainer.state.log_history[0]
    assert "ce" in log and "kl" in log and not any(k.startswith("discriminator") or k == "adv" for k in log)


def test_no_teacher_needed_when_alpha_and_beta_are_zero(tmp_path, tiny_bert, make_args, toy_dataset):
    trainer = LWKDTrainer(
        model=tiny_bert(), args=make_args(tmp_path, alpha=0.0, beta=0.0, max_steps=2),
        train_dataset=toy_dataset(with_teacher=False),
    )
    trainer.train()
    assert trainer.state.global_step == 2 and "ce" not in trainer.state.log_history[0]


def test_checkpoint_round_trip_of_discriminator_and_optimizer(tmp_path, trained_state, tiny_bert, make_args, toy_dataset):
    first = trained_state(tmp_path, "ckpt", max_steps=3, save_strategy="steps", save_steps=3)
    checkpoint = tmp_path / "ckpt" / "checkpoint-3"
    assert (checkpoint / DISCRIMINATOR_WEIGHTS_NAME).is_file()
    assert (checkpoint / DISCRIMINATOR_OPTIMIZER_NAME).is_file()
    second = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path / "other"), train_dataset=toy_dataset())
    assert not torch.equal(second.discriminator.net[0].weight, first.discriminator.net[0].weight)
    second.load_discriminator(str(checkpoint))
    for name, value in first.discriminator.state_dict().items():
        torch.testing.assert_close(second.discriminator.state_dict()[name], value, rtol=0, atol=0)
    (checkpoint / DISCRIMINATOR_OPTIMIZER_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="discriminator_optimizer.pt not found"):
        second.load_discriminator(str(checkpoint))
    a, b = first.discriminator_optimizer.state_dict(), second.discriminator_optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["param_groups"][0]["fused"] is True  # one kernel for all of D's tensors
    for key, state in a["state"].items():
        for field in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(b["state"][key][field], state[field], rtol=0, atol=0)


class BagConfig(PretrainedConfig):
    model_type = "test-bag"

    def __init__(self, vocab_size=40, num_labels=4, **kwargs):
        super().__init__(num_labels=num_labels, **kwargs)
        self.vocab_size = vocab_size


class BagModel(PreTrainedModel):
    """A user's own PreTrainedModel: mean of embeddings, then a linear layer."""

    config_class = BagConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.EmbeddingBag(config.vocab_size, 8)
        self.out = nn.Linear(8, config.num_labels)
        self.post_init()

    def forward(self, input_ids, labels=None):
        logits = self.out(self.embed(input_ids))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def test_users_own_pretrained_model_trains(tmp_path, make_args, toy_dataset):
    torch.manual_seed(0)
    trainer = LWKDTrainer(model=BagModel(BagConfig()), args=make_args(tmp_path, max_steps=3), train_dataset=toy_dataset())
    trainer.train()
    assert trainer.state.global_step == 3 and all(math.isfinite(log.get("loss", 0)) for log in trainer.state.log_history)


class TupleBagModel(BagModel):
    """The same model returning a plain tuple, ``(logits,)`` or ``(loss, logits)``, as ``return_dict=False`` does."""

    def forward(self, input_ids, labels=None):
        outputs = super().forward(input_ids, labels)
        return (outputs.logits,) if labels is None else (outputs.loss, outputs.logits)


def tuple_bert(tiny_bert):
    model = tiny_bert()
    model.config.return_dict = False
    return model


@pytest.mark.parametrize("model_kind", ["bert", "own"], ids=["bert-return_dict-false", "own-model-tuple"])
def test_models_returning_tuples_evaluate_predict_and_train_like_dict_models(
    tmp_path, tiny_bert, make_args, toy_dataset, model_kind
):
    make_tuple_model, make_dict_model = {
        "bert": (lambda: tuple_bert(tiny_bert), tiny_bert),
        "own": (lambda: bag_model(return_tuple=True), bag_model),
    }[model_kind]
    with torch.no_grad():
        assert isinstance(make_tuple_model()(input_ids=torch.tensor([[1, 2, 3]])), tuple)
    evaluation = toy_dataset(40, seed=1, with_teacher=False)
    results = {}
    for name, make_model in (("tuple", make_tuple_model), ("dict", make_dict_model)):
        trainer = LWKDTrainer(
            model=make_model(), args=make_args(tmp_path / name, max_steps=3), train_dataset=toy_dataset(),
            eval_dataset=evaluation, compute_metrics=compute_metrics,
        )
        before = trainer.evaluate()
        predicted = trainer.predict(evaluation)
        trainer.train()  # with the teacher column, then evaluate the trained weights
        results[name] = (before, predicted, trainer.evaluate(), trainer.model.state_dict(), trainer.state.log_history)
    (before, predicted, after, weights, logs), (d_before, d_predicted, d_after, d_weights, d_logs) = results.values()
    for got, want in ((before, d_before), (after, d_after), (predicted.metrics, d_predicted.metrics)):
        for key in want:
            if not key.endswith(("_runtime", "_per_second", "_time")):  # timings differ
                assert got[key] == pytest.approx(want[key], rel=1e-6), key
    assert {"eval_loss", "eval_accuracy", "eval_macro_f1"} <= set(before)
    assert after["eval_loss"] != before["eval_loss"]
    assert predicted.predictions.shape == (40, 4)
    np.testing.assert_allclose(predicted.predictions, d_predicted.predictions, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(predicted.label_ids, d_predicted.label_ids)
    for name, value in d_weights.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-6, atol=1e-7)
    losses = [log["loss"] for log in logs if "loss" in log]
    assert len(losses) == 3 and losses == pytest.approx([log["loss"] for log in d_logs if "loss" in log], rel=1e-6)


def test_bad_training_sets_fail_before_training(tmp_path, tiny_bert, make_args, toy_dataset):
    args = make_args(tmp_path)
    with pytest.raises(ValueError, match="has width 4 but the model has num_labels=5"):
        LWKDTrainer(model=tiny_bert(num_labels=5), args=args, train_dataset=toy_dataset())
    with pytest.raises(ValueError, match="has no column 'teacher_logits'"):
        LWKDTrainer(model=tiny_bert(), args=args, train_dataset=toy_dataset(with_teacher=False))
    with pytest.raises(ValueError, match="empty"):
        LWKDTrainer(model=tiny_bert(), args=args, train_dataset=toy_dataset().select([]))
    with pytest.raises(TypeError, match="LWKDConfig"):
        from transformers import TrainingArguments

        LWKDTrainer(model=tiny_bert(), args=TrainingArguments(output_dir=str(tmp_path)), train_dataset=toy_dataset())
    assert not os.path.exists(tmp_path / "checkpoint-1")


@pytest.mark.parametrize("engine", ["is_deepspeed_enabled", "is_fsdp_enabled"])
def test_deepspeed_and_fsdp_are_refused_with_a_discriminator(tmp_path, engine, tiny_bert, make_args, toy_dataset):
    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path), train_dataset=toy_dataset())
    setattr(trainer, engine, True)
    name = "DeepSpeed" if "deepspeed" in engine else "FSDP"
    with pytest.raises(ValueError, match=f"beta=0.1 is not supported under {name}"):
        trainer.create_discriminator()
    trainer.args.beta = 0.0
    trainer.create_discriminator()  # vanilla KD (no discriminator) goes through the engine like any Trainer


def test_label_smoothing_trains_smoothed_but_evaluates_plain_cross_entropy(tmp_path, tiny_bert, make_args, toy_dataset):
    args = make_args(tmp_path, alpha=0.0, beta=0.0, label_smoothing_factor=0.2)
    trainer = LWKDTrainer(model=tiny_bert(), args=args, train_dataset=toy_dataset(with_teacher=False))
    batch = first_batch(trainer)
    model = trainer.model
    with torch.no_grad():
        z = model(input_ids=batch["input_ids"]).logits.double().numpy()
    y = batch["labels"].numpy()
    log_p = np_log_softmax(z)
    plain = -log_p[np.arange(len(y)), y].mean()
    smoothed = 0.8 * plain - 0.2 * log_p.mean(axis=1).mean()
    with torch.no_grad():
        assert trainer.compute_loss(model.train(), dict(batch)).item() == pytest.approx(smoothed, rel=1e-5)
        assert trainer.compute_loss(model.eval(), dict(batch)).item() == pytest.approx(plain, rel=1e-5)


# ---- resume, and mixed precision on CPU (bf16) and on CUDA (fp16, bf16) ----


@pytest.fixture
def run(tiny_bert, make_args, toy_dataset):
    """``run(tmp_path, name, resume=None, **overrides)``: 8 steps with checkpoints every 4, optionally resumed."""

    def train(tmp_path, name, resume=None, **overrides):
        settings = dict(max_steps=8, save_strategy="steps", save_steps=4, optim="adamw_torch", logging_steps=2)
        settings.update(overrides)
        trainer = LWKDTrainer(
            model=tiny_bert(), args=make_args(tmp_path / name, **settings), train_dataset=toy_dataset(96)
        )
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    return train


def test_resume_gives_the_uninterrupted_run(tmp_path, run):
    full = run(tmp_path, "full")
    resumed = run(tmp_path, "resumed", resume=str(tmp_path / "full" / "checkpoint-4"))
    for name, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-6, atol=1e-7)
    for a, b in zip(full.discriminator.parameters(), resumed.discriminator.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)
    full_logs = [log for log in full.state.log_history if "loss" in log]
    resumed_logs = [log for log in resumed.state.log_history if "loss" in log]
    assert [log["step"] for log in resumed_logs] == [2, 4, 6, 8]  # the history continues from the checkpoint
    for a, b in zip(full_logs[2:], resumed_logs[2:]):
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), key


def test_bf16_on_cpu_keeps_every_term_finite_with_extreme_logits(tmp_path, tiny_bert, make_args, toy_dataset):
    data = toy_dataset(32)
    data = data.map(lambda row: {TEACHER_LOGITS_COLUMN: [v * 1e4 for v in row[TEACHER_LOGITS_COLUMN]]})
    trainer = LWKDTrainer(
        model=tiny_bert(), args=make_args(tmp_path, bf16=True, temperature=20.0, max_steps=4), train_dataset=data
    )
    trainer.train()
    logs = [log for log in trainer.state.log_history if "loss" in log]
    assert len(logs) == 4
    for log in logs:
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert torch.isfinite(torch.tensor(log[key])), (key, log)
    assert all(p.dtype == torch.float32 for p in trainer.discriminator.parameters())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("temperature", [1.0, 20.0])
def test_mixed_precision_on_cuda_keeps_terms_finite(tmp_path, tiny_bert, make_args, toy_dataset, precision, temperature):
    data = toy_dataset(64).map(lambda row: {TEACHER_LOGITS_COLUMN: [v * 1e4 for v in row[TEACHER_LOGITS_COLUMN]]})
    args = make_args(tmp_path, use_cpu=False, max_steps=6, temperature=temperature, **{precision: True})
    trainer = LWKDTrainer(model=tiny_bert(), args=args, train_dataset=data)
    trainer.train()
    assert trainer.args.device.type == "cuda"
    logs = [log for log in trainer.state.log_history if "loss" in log]
    assert len(logs) == 6
    for log in logs:
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert torch.isfinite(torch.tensor(log[key])), (precision, key, log)
    assert all(p.dtype == torch.float32 and p.is_cuda for p in trainer.discriminator.parameters())


def test_signature_is_trainers_so_positional_arguments_keep_their_meaning():
    trainer_parameters = inspect.signature(Trainer.__init__).parameters
    lwkd_parameters = inspect.signature(LWKDTrainer.__init__).parameters
    assert list(lwkd_parameters) == list(trainer_parameters)
    assert all(lwkd_parameters[name].default == p.default for name, p in trainer_parameters.items() if name != "self")


# ---- what users combine Trainer with: hyperparameter_search, plain nn.Module students, manual forward passes ----


def test_hyperparameter_search_gives_each_trial_its_own_discriminator_and_checks_its_settings(
    tmp_path, tiny_bert, make_args, toy_dataset
):
    trials = [dict(beta=0.1, discriminator_learning_rate=1e-3), dict(beta=0.0, alpha=0.5),
              dict(beta=0.5, discriminator_learning_rate=0.02), dict(alpha=1.7)]
    seen = []

    class Record(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 0:  # D as the trial starts: built from its settings, fresh and seeded
                d = trainer.discriminator
                seen.append({"beta": args.beta, "d": None if d is None else copy.deepcopy(d.state_dict()),
                             "lr": None if d is None else trainer.discriminator_optimizer.param_groups[0]["lr"],
                             "adam_state": None if d is None else len(trainer.discriminator_optimizer.state)})

        def on_train_end(self, args, state, control, **kwargs):
            d_optimizer = trainer.discriminator_optimizer
            seen[-1]["adam_steps"] = None if d_optimizer is None else int(d_optimizer.state_dict()["state"][0]["step"])
            seen[-1]["logged"] = sorted(k for k in state.log_history[0] if k in TERMS)

    trainer = LWKDTrainer(
        args=make_args(tmp_path, max_steps=4, beta=0.0), train_dataset=toy_dataset(),
        eval_dataset=toy_dataset(16, seed=1, with_teacher=False), model_init=lambda: tiny_bert(), callbacks=[Record()],
    )
    assert trainer.discriminator is None
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got alpha=1.7"):
        trainer.hyperparameter_search(hp_space=lambda trial: trials[trial.number], backend="optuna", n_trials=4,
                                      direction="minimize", compute_objective=lambda metrics: metrics["eval_loss"])
    assert [trial["beta"] for trial in seen] == [0.1, 0.0, 0.5]
    torch.manual_seed(7)  # args.seed
    fresh = Discriminator(4).state_dict()
    for trial in (seen[0], seen[2]):
        assert trial["adam_state"] == 0 and trial["adam_steps"] == 4 and trial["logged"] == sorted(TERMS)
        assert all(torch.equal(trial["d"][name], value) for name, value in fresh.items())
    assert seen[0]["lr"] == 1e-3 and seen[2]["lr"] == 0.02
    assert seen[1]["d"] is None and seen[1]["logged"] == ["ce", "kl"]


class PlainClassifier(nn.Module):
    """A student that is no PreTrainedModel and has no config: returns the logits tensor itself."""

    def __init__(self, num_labels=4):
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.out = nn.EmbeddingBag(40, 8), nn.Linear(8, num_labels)

    def forward(self, input_ids):
        return self.out(self.embed(input_ids))


def test_plain_module_students_returning_bare_logits_train_evaluate_and_predict(tmp_path, make_args, toy_dataset):
    evaluation = toy_dataset(16, seed=1, with_teacher=False)
    for num_labels in (None, 4):  # K from the teacher column's width, or from LWKDConfig.num_labels
        trainer = LWKDTrainer(model=PlainClassifier(), args=make_args(tmp_path, max_steps=3, num_labels=num_labels),
                              train_dataset=toy_dataset(), eval_dataset=evaluation)
        assert trainer.num_labels == 4
        trainer.train()
        assert trainer.state.global_step == 3 and "adv" in trainer.state.log_history[0]
        predicted = trainer.predict(evaluation)
        assert predicted.predictions.shape == (16, 4)
        with torch.no_grad():
            logits = trainer.model(torch.tensor(evaluation["input_ids"]))
        np.testing.assert_allclose(predicted.predictions, logits.numpy(), rtol=1e-6)
        expected = torch.nn.functional.cross_entropy(logits, torch.tensor(evaluation["label"])).item()
        assert predicted.metrics["test_loss"] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"cannot tell the number of classes K.*LWKDConfig\(num_labels=K\)"):
        LWKDTrainer(model=PlainClassifier(), args=make_args(tmp_path, alpha=0.0, beta=0.0),
                    train_dataset=toy_dataset(with_teacher=False))


def test_a_forward_pass_without_backward_leaves_no_gradient_in_the_discriminator(tmp_path, trained_state, tiny_bert,
                                                                                  make_args, toy_dataset):
    plain = trained_state(tmp_path, "plain", max_steps=2)
    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path / "probed", max_steps=2), train_dataset=toy_dataset())
    trainer.compute_loss(trainer.model.train(), first_batch(trainer))  # e.g. a probe, or a batch an OOM cut short
    assert all(p.grad is None for p in trainer.discriminator.parameters())
    trainer.train()
    for a, b in zip(plain.discriminator.parameters(), trainer.discriminator.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=0)
