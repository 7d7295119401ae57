"""Training the lightweight teacher: LeNet5 on SynMNIST-K (paper Algorithm 1, Algorithm 2 step 1, Table 2),
on the GPU when there is one, reused from the teacher cache when the same recipe was trained before."""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import teacher_cache
from .synthesis import MNISTDigits, MNISTSource, load_mnist, per_class_counts, synmnist_arrays
from .teacher import LeNet5, Teacher, TeacherConfig

LR_SCHEDULES = ("constant", "warmup-cosine")
#: Paper Table 2: synthetic examples per class of the teachers T2-T4, by K (T1, K=10, is MNIST's training set).
PAPER_PER_CLASS = {15: 5000, 100: 600, 101: 1000}
WARMUP_FRACTION = 0.05  # share of all steps spent warming up in "warmup-cosine"


def _lr_factor(schedule: str, step: int, total: int, warmup: int) -> float:
    """Multiplier of the base learning rate at optimiser ``step`` (0-based) of ``total``."""
    if schedule == "constant":
        return 1.0
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@contextlib.contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run a block with ``num_threads`` intra-op threads (``None``: unchanged), then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads or previous)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _fit(
    model: LeNet5, x: torch.Tensor, y: torch.Tensor, config: TeacherConfig, progress: bool, on_epoch_end=None
) -> None:
    """Minimise cross-entropy with ``torch.optim.SGD`` (momentum, weight decay) under ``config.lr_schedule``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay, foreach=True)
    generator = torch.Generator().manual_seed(config.seed)  # on the CPU: the same batch order on every device
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup = math.ceil(WARMUP_FRACTION * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(config.lr_schedule, step, total_steps, warmup)
    )
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator).to(x.device)
        batches = tqdm(
            range(steps_per_epoch), desc=f"teacher epoch {epoch + 1}/{config.epochs}", disable=not progress
        )
        for b in batches:
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            # index_select: the rows x[idx] gives, about 10x faster for uint8 images on a CPU
            loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if b % 50 == 0:
                batches.set_postfix(loss=f"{loss.item():.4f}")
        if on_epoch_end is not None:
            model.eval()
            on_epoch_end(epoch + 1, model, loss.item())
            model.train()
    model.eval()


def _default_test_per_class(num_classes: int, counts: list[int], test: MNISTDigits) -> list[int]:
    """K <= 10: every MNIST test digit 0..K-1; otherwise 1/6 of the mean train count (MNIST's ratio)."""
    if num_classes <= 10:
        return np.bincount(test.labels, minlength=10)[:num_classes].tolist()
    return [max(1, round(float(np.mean(counts)) / 6))] * num_classes


def default_per_class(num_classes: int, train_labels: np.ndarray) -> list[int]:
    """Table 2's training sets: K <= 10 every MNIST training digit 0..K-1 (T1 *is* MNIST's training set),
    else ``PAPER_PER_CLASS[K]`` per class (``max(600, 60000 // K)`` for a K the paper did not use)."""
    if num_classes <= 10:
        return np.bincount(np.asarray(train_labels), minlength=10)[:num_classes].tolist()
    return [PAPER_PER_CLASS.get(num_classes, max(600, 60000 // num_classes))] * num_classes


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``: the GPU when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train_teacher(
    num_classes: int,
    per_class: int | Sequence[int] | None = None,
    *,
    mnist: MNISTSource,
    epochs: int = 10,
    learning_rate: float = 0.05,
    batch_size: int = 128,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    lr_schedule: str = "warmup-cosine",
    seed: int = 0,
    test_per_class: int | Sequence[int] | None = None,
    output_dir: str | os.PathLike | None = None,
    progress: bool = True,
    num_threads: int | None = None,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | bool | None = True,
    on_epoch_end=None,
) -> Teacher:
    """Train the lightweight teacher LeNet5 on SynMNIST-K (paper Algorithm 2, step 1; Table 2).

    SGD with momentum and weight decay as in paper section 4.3, batch 128. The paper's constant learning
    rate 0.1 trains T1 to 97.5-98.1 % on MNIST test (docs/results/teacher_lr.json), so the default is 0.05
    with a linear warmup over the first 5 % of the steps and a cosine decay to zero (99.3 %);
    ``lr_schedule="constant"`` keeps the rate fixed.

    - ``mnist``: an MNIST source or the *train* ``MNISTDigits``; accuracy is measured on SynMNIST
      built from the same source's test digits.
    - ``per_class``: ``None`` takes Table 2's set (``default_per_class``: for K=10 the MNIST training
      set itself).
    - ``device``: ``None`` trains on the GPU when there is one (the images go to it once; batches are
      indexed there), else the CPU; the teacher stays there for ``Teacher.logits``.
    - ``cache_dir``: ``True`` (``$LWKD_CACHE_DIR`` or ``~/.cache/lwkd_hf``), a path, or ``None``/``False``
      (off): reuse a teacher trained earlier with the same recipe (``lwkd_hf.teacher_cache``), store a
      new one there.
    - ``on_epoch_end(epoch, model, last_batch_loss)``: called after every epoch (model in eval mode).
    - ``num_threads``: torch's intra-op threads for the call (1 is far faster when other processes share
      the cores); ``None`` keeps the current setting.

    Deterministic for a ``seed`` (and device and thread count). Saved to ``output_dir`` when given.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    train = mnist if isinstance(mnist, MNISTDigits) else load_mnist(mnist, "train")
    test = load_mnist(train.source, "test")
    if train.sha256 == test.sha256:
        raise ValueError(f"mnist must hold the train split, got the test split of {train.source}")
    if per_class is None:
        per_class = default_per_class(num_classes, train.labels)
    counts = per_class_counts(num_classes, per_class)
    if test_per_class is None:
        test_per_class = _default_test_per_class(num_classes, counts, test)
    device = resolve_device(device)
    config = TeacherConfig(
        num_classes=num_classes,
        per_class=counts,
        seed=seed,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        mnist_source=train.source,
        mnist_sha256=train.sha256,
        test_accuracy=None,
        test_examples=sum(per_class_counts(num_classes, test_per_class)),
        train_seconds=0.0,
    )
    if cache_dir is True:
        cache_dir = teacher_cache.default_cache_dir()
    if cache_dir:
        cached = teacher_cache.lookup(cache_dir, config.to_dict())
        if cached is not None:
            cached.model.to(device)
            if output_dir is not None:
                cached.save(output_dir)
            return cached
    images, labels = synmnist_arrays(num_classes, counts, mnist=train, seed=seed, progress=progress)
    test_images, test_labels = synmnist_arrays(num_classes, test_per_class, mnist=test, seed=seed)
    torch.manual_seed(seed)
    teacher = Teacher(model=LeNet5(num_classes).to(device), config=config)
    with _torch_threads(num_threads):
        start = time.perf_counter()
        x, y = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
        _fit(teacher.model, x, y, config, progress, on_epoch_end)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        config.train_seconds = round(time.perf_counter() - start, 3)
        if len(test_labels):
            config.test_accuracy = teacher.accuracy(test_images, test_labels)
    if cache_dir:
        teacher_cache.store(cache_dir, teacher)
    if output_dir is not None:
        teacher.save(output_dir)
    return teacher
