#!/usr/bin/env python
"""Step-time overhead of LWKDTrainer over plain Trainer, measured side by side in one run.

Same model (TextCNN, ~2.1M parameters by default), same batches, same seed; rounds alternate
between the trainers so machine noise hits both alike. Prints the median step time of each and
their ratio (target: LW-KD with beta=0.1 <= 1.05x plain Trainer on CPU).

    python benchmarks/overhead.py [--steps 40] [--rounds 3] [--batch-size 128] [--output overhead.json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import datasets
import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from costs import count_parameters
from lwkd_hf import LWKDConfig, LWKDTrainer
from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.text.models import build_student

VOCAB, SEQ_LEN, NUM_LABELS = 4762, 32, 10


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step: forward, backward, optimizer (and discriminator) step."""

    def __init__(self):
        self.times: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # GPU work is asynchronous: time it to completion
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)


def make_data(n: int, seed: int = 0) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    return datasets.Dataset.from_dict(
        {
            "input_ids": rng.integers(0, VOCAB - 1, (n, SEQ_LEN)).tolist(),
            "label": rng.integers(0, NUM_LABELS, n).tolist(),
            TEACHER_LOGITS_COLUMN: rng.normal(size=(n, NUM_LABELS)).astype(np.float32).tolist(),
        }
    )


def time_trainer(
    kind: str, data: datasets.Dataset, steps: int, batch_size: int, output_dir: str, use_cpu: bool = True
) -> list[float]:
    torch.manual_seed(0)
    model = build_student("textcnn", vocab_size=VOCAB, num_labels=NUM_LABELS, pad_token_id=VOCAB - 1)
    common = dict(
        output_dir=output_dir, per_device_train_batch_size=batch_size, max_steps=steps, logging_steps=10,
        save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=use_cpu, seed=0, dataloader_pin_memory=False,
    )
    timer = StepTimer()
    if kind == "trainer":
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=data.remove_columns(TEACHER_LOGITS_COLUMN))
    else:
        beta = {"lwkd": 0.1, "kd": 0.0}[kind]
        trainer = LWKDTrainer(model=model, args=LWKDConfig(beta=beta, **common), train_dataset=data)
    trainer.add_callback(timer)
    trainer.train()
    return timer.times[2:]  # the first steps warm up allocators and caches


def alternating_step_times(
    kinds: list[str], steps: int, rounds: int, batch_size: int, use_cpu: bool = True
) -> dict[str, list[float]]:
    """Step times of each trainer kind over ``rounds`` rounds, the order reversed every other round so that
    drift of the machine hits every kind alike."""
    data = make_data(steps * batch_size)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(rounds):
            for kind in kinds if round_index % 2 == 0 else kinds[::-1]:
                times[kind] += time_trainer(kind, data, steps, batch_size, tmp, use_cpu=use_cpu)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", help="write the figures as JSON here")
    args = parser.parse_args()

    params = count_parameters(build_student("textcnn", vocab_size=VOCAB, num_labels=NUM_LABELS, pad_token_id=VOCAB - 1))
    times = alternating_step_times(["trainer", "lwkd", "kd"], args.steps, args.rounds, args.batch_size)
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
          f"{args.rounds} alternating rounds of {args.steps} steps, {torch.get_num_threads()} threads")
    print("| trainer | median step (ms) | ratio to Trainer |")
    print("|---|---|---|")
    for kind, label in [("trainer", "transformers.Trainer"), ("kd", "LWKDTrainer beta=0 (vanilla KD)"),
                        ("lwkd", "LWKDTrainer beta=0.1 (LW-KD)")]:
        print(f"| {label} | {medians[kind] * 1000:.1f} | {medians[kind] / medians['trainer']:.3f} |")
    if args.output:
        atomic_write_json(args.output, result)


if __name__ == "__main__":
    main()
