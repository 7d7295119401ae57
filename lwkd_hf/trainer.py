"""``LWKDTrainer``: a ``transformers.Trainer`` whose loss is LW-KD's enhanced KD loss (paper Eq. 8).

The trainer reads precomputed, shifted teacher logits from a dataset column (see
``add_teacher_logits``) that travels through Trainer's own loader and collator. The
discriminator and its Adam optimizer are built, seeded, when ``train()`` starts (so each run or
``hyperparameter_search`` trial gets its own), stay in fp32, take their gradient from the same backward pass as the
student, are stepped once per optimizer step (after gradient accumulation, averaged over processes) and are saved in
every checkpoint.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Callable

import datasets
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import DataCollator, EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint
from transformers.utils import logging

from .atomic import atomic_path, atomic_save_safetensors
from .columns import validate_teacher_column
from .config import LWKDConfig
from .discriminator import Discriminator, adversarial_terms
from .losses import cross_entropy_loss, enhanced_kd_loss, kl_from_log_probs, kl_scale, softened_log_probs

logger = logging.get_logger(__name__)

DISCRIMINATOR_WEIGHTS_NAME = "discriminator.safetensors"
DISCRIMINATOR_OPTIMIZER_NAME = "discriminator_optimizer.pt"


class _DiscriminatorCallback(TrainerCallback):
    """The discriminator's part of the training loop: built when training begins, its gradient unscaled before the
    optimizer step (fp16), stepped right after the student's (Algorithm 2 line 13), saved with each checkpoint."""

    def __init__(self, trainer: "LWKDTrainer"):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer.create_discriminator()

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.trainer.unscale_discriminator_gradients()

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.trainer.step_discriminator()

    def on_save(self, args, state, control, **kwargs):
        self.trainer.save_discriminator(os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"))


class LWKDTrainer(Trainer):
    """Drop-in replacement for ``Trainer`` that trains with LW-KD's loss.

    The training set needs ``args.teacher_logits_column`` (K floats per row) unless
    ``alpha = beta = 0``. Evaluation sets need no such column: evaluation reports the plain
    cross-entropy (no label smoothing) as ``eval_loss`` and whatever ``compute_metrics`` returns.
    Logged every ``logging_steps`` (averaged over the micro-batches since the last log, and over processes):
    ``ce``, ``kl``, ``adv``, ``discriminator_loss``, ``discriminator_acc_real``, ``discriminator_acc_fake``.
    The student may be any model whose output is a ``logits`` field, a tuple starting with the logits, or the
    logits tensor itself; K is ``args.num_labels``, else ``model.config.num_labels``, else the teacher column's width.
    """

    def __init__(
        self,
        model: PreTrainedModel | nn.Module | None = None,
        args: LWKDConfig | None = None,
        data_collator: DataCollator | None = None,
        train_dataset: datasets.Dataset | datasets.IterableDataset | None = None,
        eval_dataset: datasets.Dataset | dict[str, datasets.Dataset] | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        model_init: Callable[[], PreTrainedModel] | None = None,
        compute_loss_func: None = None,
        compute_metrics: Callable[[EvalPrediction], dict] | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple[torch.optim.Optimizer | None, torch.optim.lr_scheduler.LambdaLR | None] = (None, None),
        optimizer_cls_and_kwargs: tuple[type[torch.optim.Optimizer], dict[str, Any]] | None = None,
        preprocess_logits_for_metrics: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ):
        """``Trainer``'s arguments, in its order; ``args`` must be an ``LWKDConfig``, and ``compute_loss_func`` is
        refused (the loss is Eq. 8), its slot kept so that positional arguments mean what they mean to ``Trainer``."""
        if compute_loss_func is not None:
            raise ValueError("LWKDTrainer computes its own loss (Eq. 8): it does not use compute_loss_func")
        if args is None:
            args = LWKDConfig(output_dir="lwkd_output")
        if not isinstance(args, LWKDConfig):
            raise TypeError(f"LWKDTrainer needs args of type LWKDConfig, got {type(args).__name__}")
        super().__init__(
            model=model,
            args=args,
            data_collator=data_collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            model_init=model_init,
            compute_metrics=compute_metrics,
            callbacks=callbacks,
            optimizers=optimizers,
            optimizer_cls_and_kwargs=optimizer_cls_and_kwargs,
            preprocess_logits_for_metrics=preprocess_logits_for_metrics,
        )
        # compute_loss returns per-batch means and never passes num_items_in_batch to the model, so Trainer must
        # divide the loss by the accumulation steps. transformers >= 5.19 reads loss_is_scaled_for_ga; 5.0-5.18
        # divide only when model_accepts_loss_kwargs is False, which Trainer sets True for any forward taking
        # **kwargs (BERT's does). False also stops Trainer counting num_items_in_batch, which nothing here reads.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        if not self.label_names:  # a student whose forward takes no labels: compute_loss reads them all the same
            self.label_names = ["labels"]
        self.num_labels = self._num_labels()
        self._term_sums: dict[str, torch.Tensor] = {}  # running sums of the logged terms since the last log
        self._term_counts: Counter[str] = Counter()
        self._checked_train_dataset = None
        self._resume_from: str | None = None
        self.discriminator: Discriminator | None = None
        self.discriminator_optimizer: torch.optim.Adam | None = None
        self.add_callback(_DiscriminatorCallback(self))
        self.create_discriminator()  # for compute_loss outside train(); train() builds its own

    def _num_labels(self) -> int:
        """K: ``args.num_labels``, else the model's ``config.num_labels``, else the teacher column's width."""
        if self.args.num_labels is not None:
            return self.args.num_labels
        num_labels = getattr(getattr(self.accelerator.unwrap_model(self.model), "config", None), "num_labels", None)
        if num_labels is not None:
            return int(num_labels)
        dataset, column = self.train_dataset, self.args.teacher_logits_column
        if isinstance(dataset, datasets.Dataset) and column in dataset.column_names and len(dataset):
            return len(dataset[0][column])  # every row's width is checked against it before training
        raise ValueError(
            "LWKDTrainer cannot tell the number of classes K: the model has no config.num_labels and the training set "
            f"is no datasets.Dataset with a {column!r} column; set LWKDConfig(num_labels=K)"
        )

    def _check_setup(self) -> None:
        """The settings (again: ``hyperparameter_search`` writes a trial's into ``args``), the engine, and the
        training set's teacher column, once per dataset."""
        self.args.check_loss_settings()
        engines = [name for name, on in (("DeepSpeed", self.is_deepspeed_enabled), ("FSDP", self.is_fsdp_enabled)) if on]
        if engines and self.args.beta > 0:
            raise ValueError(
                f"LWKDTrainer with beta={self.args.beta} is not supported under {engines[0]}: its discriminator and "
                "optimizer live outside the engine. Use DDP (accelerate launch --multi_gpu) or set beta=0."
            )
        dataset = self.train_dataset
        if self.args.uses_teacher and isinstance(dataset, datasets.Dataset) and dataset is not self._checked_train_dataset:
            validate_teacher_column(dataset, self.args.teacher_logits_column, self.num_labels)
            self._checked_train_dataset = dataset  # iterable datasets are not pre-scanned

    def create_discriminator(self) -> None:
        """Check the setup, then build a discriminator seeded by ``args.seed`` and its Adam optimizer (none when
        ``beta = 0``), restored from the checkpoint that ``train()`` resumes from, if any."""
        self._check_setup()
        self.discriminator = self.discriminator_optimizer = None
        if self.args.beta == 0:
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.args.seed)  # identical initial weights on every process
            self.discriminator = Discriminator(self.num_labels, self.args.discriminator_hidden_sizes)
        self.discriminator.to(self.args.device)
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=self.args.discriminator_learning_rate,
            fused=self.args.device.type in ("cpu", "cuda") or None,  # one kernel for all of D's tensors
        )
        if self._resume_from is not None:
            self.load_discriminator(self._resume_from)

    # ---- data: keep the teacher column through remove_unused_columns, never pass it to the model ----
    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if self.args.teacher_logits_column not in self._signature_columns:
            self._signature_columns.append(self.args.teacher_logits_column)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = {k: v for k, v in inputs.items() if k != self.args.teacher_logits_column}
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    # ---- the loss ----
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Eq. 8 on a training batch, plus D's loss with value zero (its gradient reaches D only); plain
        cross-entropy in evaluation."""
        args = self.args
        inputs = dict(inputs)
        teacher_logits = inputs.pop(args.teacher_logits_column, None)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        student_logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        if student_logits.shape != (labels.shape[0], self.num_labels):
            raise ValueError(
                f"model logits have shape {tuple(student_logits.shape)}, expected (batch, num_labels) = "
                f"({labels.shape[0]}, {self.num_labels})"
            )
        # label smoothing is a training loss: evaluation reports the plain cross-entropy, as for every other method
        ce = cross_entropy_loss(student_logits, labels, args.label_smoothing_factor if model.training else 0.0)
        if not (model.training and args.uses_teacher):
            loss = ce
        else:
            if teacher_logits is None:
                raise ValueError(f"training batch has no {args.teacher_logits_column!r}: alpha>0 or beta>0 needs it")
            # tau-softened distributions, computed once for the KL and the discriminator
            log_p_student = softened_log_probs(student_logits, args.temperature)
            log_p_teacher = softened_log_probs(teacher_logits, args.temperature)
            kl = kl_from_log_probs(log_p_student, log_p_teacher) * kl_scale(
                args.kl_scaling, args.temperature, self.num_labels
            )
            terms = {"ce": ce, "kl": kl}
            if self.discriminator is None:
                loss = enhanced_kd_loss(ce, kl, 0.0, args.alpha, args.beta)
            else:
                adversarial = adversarial_terms(
                    self.discriminator, log_p_teacher.exp(), log_p_student.exp(),
                    non_saturating=args.adversarial_loss == "non_saturating",
                )
                d_loss = adversarial.discriminator_loss
                terms.update(
                    adv=adversarial.student_loss,
                    discriminator_loss=d_loss,
                    discriminator_acc_real=(adversarial.on_teacher > 0).float().mean(),
                    discriminator_acc_fake=(adversarial.on_student < 0).float().mean(),
                )
                # D trains on its own loss in the same backward pass: added with value zero, its gradient reaches D only
                loss = enhanced_kd_loss(ce, kl, adversarial.student_loss, args.alpha, args.beta) + (d_loss - d_loss.detach())
            self._add_terms(terms)
        if return_outputs and not isinstance(outputs, dict):
            # Trainer's prediction_step reads a tuple as a model that computed its loss returns it, (loss, logits, ...);
            # the labels were kept from the model, so its tuple starts at the logits.
            outputs = (loss, *outputs)
        return (loss, outputs) if return_outputs else loss

    def _add_terms(self, terms: dict[str, torch.Tensor]) -> None:
        for name, value in terms.items():
            value = value.detach()
            self._term_sums[name] = self._term_sums[name] + value if name in self._term_sums else value
            self._term_counts[name] += 1

    # ---- the discriminator's step ----
    def unscale_discriminator_gradients(self) -> None:
        """Undo fp16 loss scaling on D's gradient (the student's optimizer unscales only its own)."""
        scaler = self.accelerator.scaler
        if self.discriminator is None or scaler is None or not scaler.is_enabled():
            return
        inverse = 1.0 / scaler.get_scale()
        for p in self.discriminator.parameters():
            if p.grad is not None:
                p.grad.mul_(inverse)

    def step_discriminator(self) -> None:
        """One Adam step of the discriminator on its accumulated gradient, averaged over processes; none where the
        student's step was skipped (an fp16 overflow)."""
        if self.discriminator is None:
            return
        with_grad = [p for p in self.discriminator.parameters() if p.grad is not None]
        if with_grad and not self.accelerator.optimizer_step_was_skipped:
            if self.accelerator.num_processes > 1:
                grads = self.accelerator.reduce(torch.cat([p.grad.flatten() for p in with_grad]), reduction="mean")
                offset = 0
                for p in with_grad:
                    p.grad.copy_(grads[offset : offset + p.numel()].view_as(p.grad))
                    offset += p.numel()
            self.discriminator_optimizer.step()
        self.discriminator_optimizer.zero_grad(set_to_none=True)

    # ---- logging: merge the per-step terms into Trainer's logs ----
    def train(self, resume_from_checkpoint: str | bool | None = None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """``Trainer.train``; the discriminator is built afresh when training begins, or restored from the
        checkpoint resumed from."""
        resume = get_last_checkpoint(self.args.output_dir) if resume_from_checkpoint is True else resume_from_checkpoint
        self._resume_from = resume or None
        self._term_sums.clear()  # terms a previous train() kept after its last log belong to no log of this one
        self._term_counts.clear()
        try:
            return super().train(resume_from_checkpoint, trial, ignore_keys_for_eval, **kwargs)
        finally:
            self._resume_from = None

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._term_sums:  # a training log (evaluation logs eval_loss)
            names = sorted(self._term_sums)
            means = torch.stack([self._term_sums[name] / self._term_counts[name] for name in names])
            if self.accelerator.num_processes > 1:
                means = self.accelerator.reduce(means, reduction="mean")
            logs.update({name: round(value, 6) for name, value in zip(names, means.tolist())})
            self._term_sums.clear()
            self._term_counts.clear()
        super().log(logs, start_time)

    # ---- checkpoints: the discriminator and its optimizer travel with the student's ----
    def save_discriminator(self, checkpoint: str) -> None:
        """Write the discriminator and its optimizer into a checkpoint folder that Trainer has written (on the
        saving process; not under ``hyperparameter_search``, whose trials keep their checkpoints elsewhere)."""
        if self.discriminator is None or not self.args.should_save or self.hp_search_backend is not None:
            return
        if not os.path.isdir(checkpoint):
            raise FileNotFoundError(f"checkpoint folder {checkpoint} not found: cannot save the discriminator beside it")
        atomic_save_safetensors(self.discriminator.state_dict(), os.path.join(checkpoint, DISCRIMINATOR_WEIGHTS_NAME))
        with atomic_path(os.path.join(checkpoint, DISCRIMINATOR_OPTIMIZER_NAME)) as tmp:
            torch.save(self.discriminator_optimizer.state_dict(), tmp)

    def load_discriminator(self, checkpoint: str) -> None:
        """Restore the discriminator and its optimizer from a checkpoint folder (safetensors, weights-only)."""
        if self.discriminator is None:
            return
        weights = os.path.join(checkpoint, DISCRIMINATOR_WEIGHTS_NAME)
        if not os.path.isfile(weights):
            logger.warning(f"{weights} not found: the discriminator starts afresh (was the checkpoint made with beta=0?)")
            return
        optimizer_state = os.path.join(checkpoint, DISCRIMINATOR_OPTIMIZER_NAME)
        if not os.path.isfile(optimizer_state):
            raise FileNotFoundError(f"{optimizer_state} not found beside {weights}: the checkpoint is incomplete")
        self.discriminator.load_state_dict(load_file(weights, device=str(self.args.device)))
        state = torch.load(optimizer_state, map_location=self.args.device, weights_only=True)
        self.discriminator_optimizer.load_state_dict(state)
