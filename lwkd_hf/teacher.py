"""The lightweight teacher: LeNet5 (paper Table 9) trained on SynMNIST (paper Algorithm 1, Table 2)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .atomic import atomic_save_safetensors, atomic_write_json
from .synthesis import MNISTDigits, MNISTSource, load_mnist, per_class_counts, synmnist_arrays

MODEL_TYPE = "lwkd-lenet5"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
LR_SCHEDULES = ("constant", "warmup-cosine")
#: Paper Table 2: synthetic examples per class of the teachers T2-T4, by K (T1, K=10, is MNIST's training set).
PAPER_PER_CLASS = {15: 5000, 100: 600, 101: 1000}
WARMUP_FRACTION = 0.05  # share of all steps spent warming up in "warmup-cosine"


class LeNet5(nn.Module):
    """LeNet5 as in paper Table 9: three 5x5 convolutions (6, 16, 120 channels), FC 84, FC K.

    Input is (N, 1, 28, 28) or (N, 28, 28), either float in [0, 1] or uint8 in [0, 255]; it is
    normalised inside ``forward`` with the fixed MNIST mean and std. 61,706 parameters at K=10.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.conv3 = nn.Conv2d(16, 120, 5)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.to(self.conv1.weight.dtype)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = (x - MNIST_MEAN) / MNIST_STD
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x)).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))


@dataclass
class TeacherConfig:
    """Everything needed to rebuild and audit a trained teacher; stored as ``config.json``.

    ``train_seconds`` is the wall time of the optimisation loop only (no data building or testing);
    ``test_accuracy`` is measured on SynMNIST built from MNIST *test* digits.
    """

    num_classes: int
    per_class: list[int]
    seed: int
    epochs: int
    learning_rate: float
    batch_size: int
    momentum: float
    weight_decay: float
    lr_schedule: str
    mnist_source: str
    mnist_sha256: str
    test_accuracy: float | None
    test_examples: int
    train_seconds: float
    model_type: str = MODEL_TYPE
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, path: str | os.PathLike | None = None) -> "TeacherConfig":
        """Build from a dict, rejecting another model type, format version or field set."""
        where = f"{path}: " if path is not None else ""
        if data.get("model_type") != MODEL_TYPE:
            raise ValueError(f"{where}expected model_type {MODEL_TYPE!r}, got {data.get('model_type')!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{where}expected format_version {FORMAT_VERSION}, got {data.get('format_version')!r}")
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(
                f"{where}config fields differ: missing {sorted(names - set(data))}, "
                f"unexpected {sorted(set(data) - names)}"
            )
        return cls(**data)


@dataclass
class Teacher:
    """A trained LeNet5 teacher with its :class:`TeacherConfig`."""

    model: LeNet5
    config: TeacherConfig

    def save(self, output_dir: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` then ``config.json`` (atomically) into ``output_dir``."""
        output_dir = Path(output_dir)
        atomic_save_safetensors(
            {k: v.cpu() for k, v in self.model.state_dict().items()}, output_dir / WEIGHTS_NAME, metadata={"format": "pt", "model_type": MODEL_TYPE}
        )
        atomic_write_json(output_dir / CONFIG_NAME, self.config.to_dict())
        return output_dir

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Teacher":
        """Load a folder written by :meth:`save`, checking config and weight names/shapes (no pickle)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        if not config_path.is_file():
            raise FileNotFoundError(f"not a LW-KD teacher folder: {config_path} not found")
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config_path}: expected a JSON object, got unreadable content ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"{config_path}: expected a JSON object, got {type(data).__name__}")
        config = TeacherConfig.from_dict(data, path=config_path)
        if not weights_path.is_file():
            raise FileNotFoundError(f"LW-KD teacher weights not found: {weights_path}")
        model = LeNet5(config.num_classes)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        try:
            state = load_file(str(weights_path))
        except SafetensorError as err:
            raise ValueError(f"{weights_path}: expected a safetensors file, got unreadable content ({err})") from err
        got = {k: tuple(v.shape) for k, v in state.items()}
        if got != expected:
            raise ValueError(f"{weights_path}: expected tensors {expected}, got {got}")
        model.load_state_dict(state)
        model.eval()
        return cls(model=model, config=config)

    @torch.no_grad()
    def logits(self, images: np.ndarray | torch.Tensor, batch_size: int = 1024) -> np.ndarray:
        """Teacher logits (N, K) float32 for images (N, 28, 28) or (N, 1, 28, 28), uint8 or float."""
        self.model.eval()
        device = self.model.conv1.weight.device
        out = []
        for i in range(0, len(images), batch_size):
            batch = images[i : i + batch_size]
            batch = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(np.array(batch))
            out.append(self.model(batch.to(device)))
        if not out:
            return np.zeros((0, self.model.num_classes), dtype=np.float32)
        return torch.cat(out).float().cpu().numpy()

    def accuracy(self, images: np.ndarray | torch.Tensor, labels: np.ndarray) -> float:
        """Top-1 accuracy of the teacher on ``images`` against integer ``labels``."""
        return float((self.logits(images).argmax(axis=1) == np.asarray(labels)).mean())


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
    """Minimise cross-entropy with SGD (momentum, weight decay) under ``config.lr_schedule``."""
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)  # on the CPU: the same batch order on every device
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup = math.ceil(WARMUP_FRACTION * total_steps)
    step = 0
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        batches = tqdm(
            range(steps_per_epoch), desc=f"teacher epoch {epoch + 1}/{config.epochs}", disable=not progress
        )
        for b in batches:
            idx = order[b * config.batch_size : (b + 1) * config.batch_size].to(x.device)
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * _lr_factor(config.lr_schedule, step, total_steps, warmup)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
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

    - ``mnist``: an MNIST source or the *train* :class:`MNISTDigits`; accuracy is measured on SynMNIST
      built from the same source's test digits.
    - ``per_class``: ``None`` takes Table 2's set (:func:`default_per_class`: for K=10 the MNIST training
      set itself).
    - ``device``: ``None`` trains on the GPU when there is one (the images go to it once; batches are
      indexed there), else the CPU; the teacher stays there for :meth:`Teacher.logits`.
    - ``cache_dir``: ``True`` (``$LWKD_CACHE_DIR`` or ``~/.cache/lwkd_hf``), a path, or ``None``/``False``
      (off): reuse a teacher trained earlier with the same recipe (:mod:`lwkd_hf.teacher_cache`), store a
      new one there.
    - ``on_epoch_end(epoch, model, last_batch_loss)``: called after every epoch (model in eval mode).
    - ``num_threads``: torch's intra-op threads for the call (1 is far faster when other processes share
      the cores); ``None`` keeps the current setting.

    Deterministic for a ``seed`` (and device and thread count). Saved to ``output_dir`` when given.
    """
    from . import teacher_cache  # it imports Teacher from here

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
