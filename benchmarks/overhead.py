#!/usr/bin/env python
"""Step-time overhead of LWKDTrainer over plain Trainer, measured side by side.

Same model (TextCNN, ~2.1M parameters), same batches, same seed; the trainers take turns step by step so
machine noise hits them alike, in several fresh processes one after another. Prints each process's median
step times and ratios, and the ratios' mean over processes with a 95 % t interval (target, issue 9: LW-KD
with beta=0.1 <= 1.01x plain Trainer on CPU). The processes run under glibc's malloc settings, as the example
script does by default; ``--keep-freed-memory`` has them keep the memory they free (``lwkd_hf.allocator``, the
example's ``--keep_freed_memory``).

    python benchmarks/overhead.py [--steps 150] [--processes 5] [--batch-size 128] [--keep-freed-memory] [--output F]
    python benchmarks/overhead.py --profile 50    # where each trainer's step time goes, op by op
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import datasets
import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from costs import count_parameters
from lwkd_hf import LWKDConfig, LWKDTrainer
from lwkd_hf.allocator import keep_freed_memory
from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.comparison import paired_difference
from lwkd_hf.text.models import build_small_bert, build_student

VOCAB, SEQ_LEN, NUM_LABELS = 4762, 32, 10
#: BERT-base's shape, randomly initialised (89.7M parameters with this 4,762-token vocabulary; 110M with BERT's)
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512)


def build_model(student: str) -> torch.nn.Module:
    """The timed student: ``textcnn`` (the README's main job) or ``bert-base``."""
    if student == "bert-base":
        return build_small_bert(VOCAB, NUM_LABELS, pad_token_id=VOCAB - 1, **BERT_BASE)
    return build_student(student, vocab_size=VOCAB, num_labels=NUM_LABELS, pad_token_id=VOCAB - 1)


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
    kind: str, data: datasets.Dataset, batch_size: int, output_dir: str, use_cpu: bool = True, student: str = "textcnn"
) -> Callable[[], None]:
    """One optimizer step of ``kind``'s trainer, the work of a step of Trainer's loop, on the next of ``data``'s
    batches (collated beforehand): ``training_step`` (forward, loss, backward), gradient clipping, the optimizer
    step and its ``on_optimizer_step`` callbacks (LW-KD's discriminator steps there), the scheduler step, zeroed
    gradients. Not run: accelerate's wrapping, the other callbacks (alike for every kind) and logging, where LW-KD
    also turns the discriminator's kept logits into its logged metrics, in about ten ops per logging step."""
    torch.manual_seed(0)
    model = build_model(student)
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
    kinds: list[str], steps: int, batch_size: int, use_cpu: bool = True, student: str = "textcnn", warmup: int = 3
) -> dict[str, list[float]]:
    """Wall time of ``steps`` steps of each trainer kind, interleaved step by step (the order of the kinds
    reversed every other step): on 2 shared cores the step time drifts by up to 10 % within a minute, and
    only interleaving this fine lets that drift hit every kind alike. ``warmup`` untimed steps first."""
    data = make_data(8 * batch_size)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    sync = torch.cuda.synchronize if torch.cuda.is_available() else lambda: None  # GPU work is asynchronous
    with tempfile.TemporaryDirectory() as tmp:
        step = {kind: trainer_step(kind, data, batch_size, tmp, use_cpu=use_cpu, student=student) for kind in kinds}
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


def profile_steps(
    kinds: list[str], steps: int, batch_size: int, use_cpu: bool = True, student: str = "textcnn", warmup: int = 3
) -> dict[str, str]:
    """``torch.profiler``'s table of ``steps`` steps of each trainer kind (after ``warmup`` unprofiled ones), ops
    sorted by their own CPU time (on a GPU too, where a small model's step waits on the CPU launching kernels; the
    table adds their GPU time): where a kind's extra time goes, op by op."""
    data = make_data(8 * batch_size)
    cuda = torch.cuda.is_available() and not use_cpu
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            step = trainer_step(kind, data, batch_size, tmp, use_cpu=use_cpu, student=student)
            for _ in range(warmup):
                step()
            with torch.profiler.profile(activities=activities) as profiler:
                for _ in range(steps):
                    step()
                if cuda:
                    torch.cuda.synchronize()
            tables[kind] = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
    return tables


def _step_times_in_fresh_process(keep_memory: bool, *args) -> tuple[bool, dict[str, list[float]]]:
    """Whether freed memory is kept in this process (asked and applied), and :func:`alternating_step_times`."""
    kept = keep_memory and keep_freed_memory()
    return kept, alternating_step_times(*args)


def step_ratios_over_processes(
    kinds: list[str], steps: int, batch_size: int, processes: int, use_cpu: bool = True, keep_memory: bool = False,
    student: str = "textcnn",
) -> dict:
    """:func:`alternating_step_times` in ``processes`` fresh processes, one after another: where a process's memory
    lands makes one trainer's steps 0.5-1 % slower than an identical trainer's for that whole process, more than
    a 1 % target can stand, so each ratio (median step of a kind / median step of ``kinds[0]``) is averaged over
    processes, with a 95 % t interval. ``keep_memory``: the processes keep the memory they free
    (:func:`lwkd_hf.allocator.keep_freed_memory`, the example's ``--keep_freed_memory``); ``freed_memory_kept`` in
    the result says whether every process did."""
    runs, kept = [], []
    for _ in range(processes):
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as fresh:
            applied, times = fresh.submit(
                _step_times_in_fresh_process, keep_memory, kinds, steps, batch_size, use_cpu, student
            ).result()
        kept.append(applied)
        runs.append({kind: statistics.median(values) for kind, values in times.items()})
    ratios = {kind: [run[kind] / run[kinds[0]] for run in runs] for kind in kinds[1:]}
    summary = {}
    for kind, values in ratios.items():
        above_one = paired_difference(dict(enumerate(values)), dict.fromkeys(range(len(values)), 1.0))
        summary[kind] = {"mean": above_one.mean + 1, "ci95": [float(above_one.low) + 1, float(above_one.high) + 1],
                         "per_process": values}
    return {"median_step_seconds_per_process": runs, "ratio": summary, "steps_timed_per_process": steps,
            "processes": processes, "freed_memory_kept": all(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="timed steps of each trainer in each process")
    parser.add_argument("--processes", type=int, default=5, help="fresh processes to average the ratios over")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--student", default="textcnn", choices=["textcnn", "bert-base"],
                        help="the timed model: TextCNN (the README's main job) or a randomly initialised BERT-base")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="keep the memory each process frees (lwkd_hf.allocator), not glibc's malloc settings")
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument("--profile", type=int, metavar="STEPS",
                        help="instead of timing: print torch.profiler's op table for STEPS steps of each trainer")
    args = parser.parse_args()
    if args.processes < 2:
        parser.error(f"--processes must be at least 2 for an interval, got {args.processes}")
    use_cpu = not torch.cuda.is_available()  # the GPU where there is one
    if args.profile:
        for kind, table in profile_steps(["trainer", "kd", "lwkd"], args.profile, args.batch_size, use_cpu=use_cpu,
                                         student=args.student).items():
            print(f"## {kind}: {args.profile} steps\n{table}")
        return

    params = count_parameters(build_model(args.student))
    device = "CPU" if use_cpu else torch.cuda.get_device_name(0)
    print(f"{args.student} {params:,} parameters on {device}, batch {args.batch_size} x {SEQ_LEN} tokens, {args.steps} "
          f"steps each taking turns, in {args.processes} fresh processes, {torch.get_num_threads()} threads, freed "
          f"memory {'kept where glibc allows' if args.keep_freed_memory else 'handed back (glibc defaults)'}",
          flush=True)
    measured = step_ratios_over_processes(["trainer", "kd", "lwkd"], args.steps, args.batch_size, args.processes,
                                          use_cpu=use_cpu, keep_memory=args.keep_freed_memory, student=args.student)
    print(f"freed memory kept in every process: {measured['freed_memory_kept']}")
    print("| trainer | median step (ms), each process | ratio to Trainer, each process | mean ratio [95 % CI] |")
    print("|---|---|---|---|")
    for kind, label in [("trainer", "transformers.Trainer"), ("kd", "LWKDTrainer beta=0 (vanilla KD)"),
                        ("lwkd", "LWKDTrainer beta=0.1 (LW-KD)")]:
        ms = ", ".join(f"{run[kind] * 1000:.1f}" for run in measured["median_step_seconds_per_process"])
        if kind == "trainer":
            print(f"| {label} | {ms} | 1 | 1 |")
            continue
        ratio = measured["ratio"][kind]
        each = ", ".join(f"{r:.3f}" for r in ratio["per_process"])
        print(f"| {label} | {ms} | {each} | {ratio['mean']:.4f} [{ratio['ci95'][0]:.4f}, {ratio['ci95'][1]:.4f}] |")
    if args.output:
        atomic_write_json(args.output, {"model": args.student, "parameters": params, "device": device,
                                        "batch_size": args.batch_size, "seq_len": SEQ_LEN,
                                        "torch_threads": torch.get_num_threads(), **measured})


if __name__ == "__main__":
    main()
