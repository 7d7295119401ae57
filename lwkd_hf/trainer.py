"""``LWKDTrainer``: a ``transformers.Trainer`` whose loss is LW-KD's enhanced KD loss (paper Eq. 8).

The trainer reads precomputed, shifted teacher logits from a dataset column (see
:func:`~lwkd_hf.soft_targets.add_teacher_logits`); a ``datasets.Dataset``'s column is read once into memory and the
training loader's collator takes each batch's rows from it, so a training step costs what a supervised step costs
plus a softmax, a KL and a 4.9K-parameter discriminator. The discriminator has its own Adam optimizer, stays in
fp32, is stepped once per optimizer step (after gradient accumulation, with its gradients averaged over processes)
and is saved in every checkpoint.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any, Callable

import datasets
import numpy as np
import torch
import torch.optim.optimizer as torch_optimizer
from torch import nn
from transformers import DataCollator, EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback
from transformers.utils import logging

from .atomic import atomic_path, atomic_save_safetensors
from .columns import TEACHER_ROW_COLUMN, TeacherTableCollator, column_array, validate_teacher_column
from .config import LWKDConfig
from .discriminator import Discriminator, adversarial_terms
from .losses import (
    cross_entropy_loss,
    discriminator_loss,
    enhanced_kd_loss,
    kl_from_log_probs,
    kl_scale,
    softened_log_probs,
)

logger = logging.get_logger(__name__)

DISCRIMINATOR_WEIGHTS_NAME = "discriminator.safetensors"
DISCRIMINATOR_OPTIMIZER_NAME = "discriminator_optimizer.pt"


def _adam_fused(device: torch.device) -> bool | None:
    """Adam's ``fused`` for ``device``: True where torch has a fused Adam (one kernel for all tensors; on a CPU 2.6x
    faster for D's 4,929 weights): CUDA, and the CPU from torch 2.4; else None (torch's default)."""
    return True if device.type == "cuda" or (device.type == "cpu" and torch.__version__ >= (2, 4)) else None


def step_adam(optimizer: torch.optim.Adam) -> None:
    """``optimizer.step()``. For a fused Adam with one group of plain options (no amsgrad, maximize, capturable,
    differentiable, tensor lr or grad scaler), no step hooks and a gradient and a state for every parameter, its kernel
    is called directly, as ``torch.optim.adam._fused_adam`` calls it: the same arithmetic and state without the
    ~0.2 ms of Python around it on a CPU (hooks, profiling, grouping tensors by device), a sixth of the discriminator's
    time in an LW-KD step (issue 9)."""
    group = optimizer.param_groups[0]
    params = group["params"]
    states = [optimizer.state.get(p) for p in params]
    if (
        len(optimizer.param_groups) > 1 or not group["fused"] or torch.is_tensor(group["lr"])
        or any(group.get(option) for option in ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay"))
        or optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
        or getattr(torch_optimizer, "_global_optimizer_pre_hooks", None)
        or getattr(torch_optimizer, "_global_optimizer_post_hooks", None)
        or getattr(optimizer, "grad_scale", None) is not None
        or not all(states) or any(p.grad is None for p in params)
    ):
        optimizer.step()
        return
    steps = [state["step"] for state in states]
    beta1, beta2 = group["betas"]
    with torch.no_grad():
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params, [p.grad for p in params], [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states], [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
            beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=False, grad_scale=None,
            found_inf=None,
        )


class _DiscriminatorStepCallback(TrainerCallback):
    """Steps the discriminator right after the student's optimizer step (Algorithm 2 line 13)."""

    def __init__(self, trainer: "LWKDTrainer"):
        self.trainer = trainer

    def on_optimizer_step(self, args, state, control, **kwargs):
        if self.trainer.accelerator.optimizer_step_was_skipped:  # fp16 overflow: the student did not move either
            self.trainer.discriminator_optimizer.zero_grad(set_to_none=True)
        else:
            self.trainer.step_discriminator()


class LWKDTrainer(Trainer):
    """Drop-in replacement for ``Trainer`` that trains with LW-KD's loss.

    The training set needs ``args.teacher_logits_column`` (K floats per row) unless
    ``alpha = beta = 0``. Evaluation sets need no such column: evaluation reports the plain
    cross-entropy (no label smoothing) as ``eval_loss`` and whatever ``compute_metrics`` returns.
    Logged every ``logging_steps`` (averaged since the last log, over processes too):
    ``ce``, ``kl``, ``adv``, ``discriminator_loss``, ``discriminator_acc_real``, ``discriminator_acc_fake``.
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
        self.num_labels = self._model_num_labels()
        self._metrics: dict[str, list[torch.Tensor]] = defaultdict(list)
        self._discriminator_logits: list[tuple[torch.Tensor, torch.Tensor]] = []  # per micro-batch, read in log
        if args.uses_teacher and isinstance(self.train_dataset, datasets.Dataset):  # iterable datasets are not pre-scanned
            validate_teacher_column(self.train_dataset, args.teacher_logits_column, self.num_labels)
        self.discriminator: Discriminator | None = None
        self.discriminator_optimizer: torch.optim.Optimizer | None = None
        self._check_parallelism()
        if args.beta > 0:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(args.seed)  # identical initial weights on every process
                self.discriminator = Discriminator(self.num_labels, args.discriminator_hidden_sizes)
            self.discriminator.to(self.args.device)
            self.discriminator_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=args.discriminator_learning_rate,
                fused=_adam_fused(self.args.device),
            )
            self.add_callback(_DiscriminatorStepCallback(self))

    def _check_parallelism(self) -> None:
        """Refuse engines that shard or wrap optimizers: the discriminator is a plain fp32 module outside them."""
        engines = [name for name, on in (("DeepSpeed", self.is_deepspeed_enabled), ("FSDP", self.is_fsdp_enabled)) if on]
        if engines and self.args.beta > 0:
            raise ValueError(
                f"LWKDTrainer with beta={self.args.beta} is not supported under {engines[0]}: its discriminator and "
                "optimizer live outside the engine. Use DDP (accelerate launch --multi_gpu) or set beta=0."
            )

    def _model_num_labels(self) -> int:
        num_labels = getattr(getattr(self.accelerator.unwrap_model(self.model), "config", None), "num_labels", None)
        if num_labels is None:
            raise ValueError("LWKDTrainer needs a model whose config has num_labels (a sequence classifier)")
        return int(num_labels)

    # ---- data: keep the teacher column (or its row index) through remove_unused_columns, never pass it to the model ----
    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        for column in (self.args.teacher_logits_column, TEACHER_ROW_COLUMN):
            if column not in self._signature_columns:
                self._signature_columns.append(column)

    def get_train_dataloader(self):
        """Trainer's loader; for a ``datasets.Dataset`` the teacher column is read once into a CPU tensor (N x K
        floats), the loader reads each row's index (:data:`~lwkd_hf.columns.TEACHER_ROW_COLUMN`) instead of its K
        floats, whose way through Arrow, Python lists and the collator costs about 0.5 ms a batch of 128 on a CPU
        (the indices' about 0.2 ms; a TextCNN step: 70-90 ms), and its collator
        (:class:`~lwkd_hf.columns.TeacherTableCollator`) puts the rows' logits back in the batch. Iterable datasets, and
        datasets behind an indices mapping (after ``shuffle``, ``select``, ``filter``: adding a column would copy them
        whole), keep the column in their rows."""
        dataset, column, collator = self.train_dataset, self.args.teacher_logits_column, self.data_collator
        if not (self.args.uses_teacher and isinstance(dataset, datasets.Dataset) and column in dataset.column_names
                and dataset._indices is None):
            return super().get_train_dataloader()
        self.train_dataset = dataset.remove_columns(column).add_column(TEACHER_ROW_COLUMN, np.arange(len(dataset)))
        self.data_collator = TeacherTableCollator(collator, torch.from_numpy(column_array(dataset, column)), column)
        try:
            return super().get_train_dataloader()
        finally:
            self.train_dataset, self.data_collator = dataset, collator

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = {k: v for k, v in inputs.items() if k != self.args.teacher_logits_column}
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    # ---- the loss ----
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Eq. 8 on a training batch; plain cross-entropy in evaluation."""
        args = self.args
        inputs = dict(inputs)
        teacher_logits = inputs.pop(args.teacher_logits_column, None)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
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
            self._metrics["ce"].append(ce.detach())
            self._metrics["kl"].append(kl.detach())
            adv = 0.0
            if self.discriminator is not None:
                adv = self._adversarial_term(log_p_teacher.exp(), log_p_student.exp())
            loss = enhanced_kd_loss(ce, kl, adv, args.alpha, args.beta)
        if return_outputs and not isinstance(outputs, dict):
            # Trainer's prediction_step reads a tuple as a model that computed its loss returns it, (loss, logits, ...);
            # the labels were kept from the model, so its tuple starts at the logits.
            outputs = (loss, *outputs)
        return (loss, outputs) if return_outputs else loss

    def _adversarial_term(self, p_teacher: torch.Tensor, p_student: torch.Tensor) -> torch.Tensor:
        """The student's part of Eq. 7 (``D``'s weights held constant); ``D``'s own loss gradient, divided by the
        accumulation steps, is added to ``D``'s ``.grad`` on the way (the student held constant)."""
        adv, on_teacher, on_student = adversarial_terms(
            self.discriminator, p_teacher, p_student,
            non_saturating=self.args.adversarial_loss == "non_saturating",
            discriminator_grad_scale=1.0 / getattr(self, "current_gradient_accumulation_steps", 1),
        )
        self._metrics["adv"].append(adv.detach())
        self._discriminator_logits.append((on_teacher, on_student))
        return adv

    def _record_discriminator_metrics(self) -> None:
        """``D``'s loss and its accuracy on teacher (logit > 0) and student (logit < 0) distributions, one value per
        micro-batch since the last log, computed here from the kept logits in a few ops for all of them (micro-batches
        of one size at a time) rather than a dozen ops in every step."""
        by_size: dict[tuple[int, int], list[tuple[torch.Tensor, torch.Tensor]]] = defaultdict(list)
        for on_teacher, on_student in self._discriminator_logits:
            by_size[(len(on_teacher), len(on_student))].append((on_teacher, on_student))
        for pairs in by_size.values():
            on_teacher, on_student = (torch.stack(side) for side in zip(*pairs))  # (micro-batches, rows)
            self._metrics["discriminator_loss"].append(discriminator_loss(on_teacher, on_student, dim=1))
            self._metrics["discriminator_acc_real"].append((on_teacher > 0).float().mean(1))
            self._metrics["discriminator_acc_fake"].append((on_student < 0).float().mean(1))
        self._discriminator_logits.clear()

    def step_discriminator(self) -> None:
        """One Adam step of the discriminator on its accumulated gradient, averaged over processes."""
        if self.discriminator is None:
            return
        groups = self.discriminator_optimizer.param_groups
        with_grad = [p for group in groups for p in group["params"] if p.grad is not None]
        if self.accelerator.num_processes > 1 and with_grad:
            grads = self.accelerator.reduce(torch.cat([p.grad.flatten() for p in with_grad]), reduction="mean")
            offset = 0
            for p in with_grad:
                p.grad.copy_(grads[offset : offset + p.numel()].view_as(p.grad))
                offset += p.numel()
        step_adam(self.discriminator_optimizer)
        for p in with_grad:  # zero_grad(set_to_none=True) without its profiling and compiler wrappers
            p.grad = None

    # ---- logging: merge the per-step terms into Trainer's logs ----
    def train(self, *args, **kwargs):
        self._metrics.clear()  # terms a previous train() kept after its last log belong to no log of this one
        self._discriminator_logits.clear()
        return super().train(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log (evaluation logs eval_loss)
            self._record_discriminator_metrics()
            if self._metrics:
                names = sorted(self._metrics)
                means = torch.stack([torch.cat([v.reshape(-1) for v in self._metrics[name]]).mean() for name in names])
                if self.accelerator.num_processes > 1:
                    means = self.accelerator.reduce(means, reduction="mean")
                logs.update({name: round(value, 6) for name, value in zip(names, means.tolist())})
                self._metrics.clear()
        super().log(logs, start_time)

    # ---- checkpoints: the discriminator and its optimizer travel with the student's ----
    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.discriminator is None or not self.args.should_save:
            return
        atomic_save_safetensors(self.discriminator.state_dict(), os.path.join(output_dir, DISCRIMINATOR_WEIGHTS_NAME))
        with atomic_path(os.path.join(output_dir, DISCRIMINATOR_OPTIMIZER_NAME)) as tmp:
            torch.save(self.discriminator_optimizer.state_dict(), tmp)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            self.load_discriminator(checkpoint)

    def load_discriminator(self, checkpoint: str) -> None:
        """Restore the discriminator and its optimizer from a checkpoint folder (safetensors, weights-only)."""
        if self.discriminator is None:
            return
        weights = os.path.join(checkpoint, DISCRIMINATOR_WEIGHTS_NAME)
        if not os.path.isfile(weights):
            logger.warning(f"{weights} not found: the discriminator starts afresh (was the checkpoint made with beta=0?)")
            return
        from safetensors.torch import load_file

        optimizer_state = os.path.join(checkpoint, DISCRIMINATOR_OPTIMIZER_NAME)
        if not os.path.isfile(optimizer_state):
            raise FileNotFoundError(f"{optimizer_state} not found beside {weights}: the checkpoint is incomplete")
        self.discriminator.load_state_dict(load_file(weights, device=str(self.args.device)))
        state = torch.load(optimizer_state, map_location=self.args.device, weights_only=True)
        self.discriminator_optimizer.load_state_dict(state)
        for group in self.discriminator_optimizer.param_groups:  # the saved "fused" is the saving machine's choice
            group["fused"] = _adam_fused(self.args.device)
