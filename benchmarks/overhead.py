#!/usr/bin/env python
"""Step-time overhead of LWKDTrainer over plain Trainer, measured side by side in one run.

Same model (TextCNN, ~2.1M parameters), same batches, same seed; the trainers take turns step by step so
machine noise hits them alike. Prints the median step time of each and their ratio (target, issue 9: LW-KD
with beta=0.1 <= 1.01x plain Trainer on CPU).

    python benchmarks/overhead.py [--steps 150] [--batch-size 128] [--output overhead.json]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from typing import Callable

import datasets
import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from costs import count_parameters
from lwkd_hf import LWKDConfig, LWKDTrainer
from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.text.models import build_student

VOCAB, SEQ_LEN, NUM_LABELS = 4762, 32, 10


def make_data(n: int, seed: int = 0) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    return datasets.Dataset.from_dict(
        {
            "input_ids": rng.integers(0, VOCAB - 1, (n, SEQ_LEN)).tolist(),
            "label": rng.integers(0, NUM_LABELS, n).tolist(),
            TEACHER_LOGITS_COLUMN: rng.normal(size=(n, NUM_LABELS)).astype(np.float32).tolist(),
        }
    )


def trainer_step(
    kind: str, data: datasets.Dataset, batch_size: int, output_dir: str, use_cpu: bool = True
) -> Callable[[], None]:
    """One optimizer step of ``kind``'s trainer, the work of a step of Trainer's loop, on the next of ``data``'s
    batches (collated beforehand): ``training_step`` (forward, loss, backward), gradient clipping, the optimizer
    step and its ``on_optimizer_step`` callbacks (LW-KD's discriminator steps there), the scheduler step, zeroed
    gradients. Not run: accelerate's wrapping, the other callbacks and logging (alike for every kind)."""
    torch.manual_seed(0)
    model = build_student("textcnn", vocab_size=VOCAB, num_labels=NUM_LABELS, pad_token_id=VOCAB - 1)
    common = dict(
        output_dir=output_dir, per_device_train_batch_size=batch_size, save_strategy="no", report_to=[],
        disable_tqdm=True, use_cpu=use_cpu, seed=0, dataloader_pin_memory=False,
    )
    if kind == "trainer":
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=data.remove_columns(TEACHER_LOGITS_COLUMN))
    else:
        beta = {"lwkd": 0.1, "kd": 0.0}[kind]
        trainer = LWKDTrainer(model=model, args=LWKDConfig(beta=beta, **common), train_dataset=data)
    batches = list(trainer.get_train_dataloader())
    trainer.create_optimizer_and_scheduler(num_training_steps=10**6)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop
    model.train()
    done = itertools.count()

    def step() -> None:
        trainer.training_step(model, batches[next(done) % len(batches)])
        torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.args.max_grad_norm)
        trainer.optimizer.step()
        trainer.control = trainer.callback_handler.on_optimizer_step(trainer.args, trainer.state, trainer.control)
        trainer.lr_scheduler.step()
        model.zero_grad(set_to_none=True)

    return step


def alternating_step_times(
    kinds: list[str], steps: int, batch_size: int, use_cpu: bool = True, warmup: int = 3
) -> dict[str, list[float]]:
    """Wall time of ``steps`` steps of each trainer kind, interleaved step by step (the order of the kinds
    reversed every other step): on 2 shared cores the step time drifts by up to 10 % within a minute, and
    only interleaving this fine lets that drift hit every kind alike. ``warmup`` untimed steps first."""
    data = make_data(8 * batch_size)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    sync = torch.cuda.synchronize if torch.cuda.is_available() else lambda: None  # GPU work is asynchronous
    with tempfile.TemporaryDirectory() as tmp:
        step = {kind: trainer_step(kind, data, batch_size, tmp, use_cpu=use_cpu) for kind in kinds}
        for kind in kinds:
            for _ in range(warmup):
                step[kind]()
        for i in range(steps):
            for kind in kinds if i % 2 == 0 else kinds[::-1]:
                sync()
                start = time.perf_counter()
                step[kind]()
                sync()
                times[kind].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="timed steps of each trainer")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", help="write the figures as JSON here")
    args = parser.parse_args()

    params = count_parameters(build_student("textcnn", vocab_size=VOCAB, num_labels=NUM_LABELS, pad_token_id=VOCAB - 1))
    times = alternating_step_times(["trainer", "lwkd", "kd"], args.steps, args.batch_size)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    result = {
        "model": "TextCNN", "parameters": params, "batch_size": args.batch_size, "seq_len": SEQ_LEN,
        "steps_timed": {kind: len(values) for kind, values in times.items()},
        "torch_threads": torch.get_num_threads(),
        "median_step_seconds": medians,
        "ratio_lwkd_beta0.1_over_trainer": medians["lwkd"] / medians["trainer"],
        "ratio_kd_beta0_over_trainer": medians["kd"] / medians["trainer"],
    }
    print(f"TextCNN {params:,} parameters, batch {args.batch_size} x {SEQ_LEN} tokens, "
          f"{args.steps} steps each, taking turns, {torch.get_num_threads()} threads")
    print("| trainer | median step (ms) | ratio to Trainer |")
    print("|---|---|---|")
    for kind, label in [("trainer", "transformers.Trainer"), ("kd", "LWKDTrainer beta=0 (vanilla KD)"),
                        ("lwkd", "LWKDTrainer beta=0.1 (LW-KD)")]:
        print(f"| {label} | {medians[kind] * 1000:.1f} | {medians[kind] / medians['trainer']:.3f} |")
    if args.output:
        atomic_write_json(args.output, result)


if __name__ == "__main__":
    main()
