"""The lightweight teacher: LeNet5 (paper Table 9), its config, and its files (safetensors + ``config.json``).

Training it on SynMNIST is ``lwkd_hf.teacher_training.train_teacher``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .atomic import atomic_save_safetensors, atomic_write_json
from .provenance import tensors_sha256

MODEL_TYPE = "lwkd-lenet5"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_METADATA = {"format": "pt", "model_type": MODEL_TYPE}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class LeNet5(nn.Module):
    """LeNet5 as in paper Table 9: three 5x5 convolutions (6, 16, 120 channels), FC 84, FC K.

    Input is (N, 1, 28, 28) or (N, 28, 28), either float in [0, 1] or uint8 in [0, 255]; it is
    normalised inside ``forward`` with the fixed MNIST mean and std. 61,706 parameters at K=10.
    The convolution weights are kept channels-last (on a CPU: inference about 2x, training about 1.25x faster),
    ReLU runs after max-pooling (the same values: ReLU is monotone; a quarter of the work), and the third
    convolution, whose 5x5 kernel covers its whole 5x5 input, runs as the matrix product it is (training on a CPU
    about 17 % faster than through the convolution kernel).
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.conv3 = nn.Conv2d(16, 120, 5)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] not in ((28, 28), (1, 28, 28)):
            raise ValueError(f"LeNet5 expects images (N, 28, 28) or (N, 1, 28, 28), got {tuple(x.shape)}")
        dtype = self.conv1.weight.dtype
        x = x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = (x - MNIST_MEAN) / MNIST_STD
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(F.linear(_flatten_hwc(x), _flatten_hwc(self.conv3.weight), self.conv3.bias))
        return self.fc2(F.relu(self.fc1(x)))


def _flatten_hwc(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H*W*C): a view for channels-last tensors, so conv3 on a 5x5 map is one matrix product."""
    return x.permute(0, 2, 3, 1).flatten(1)


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
    """A trained LeNet5 teacher with its ``TeacherConfig``."""

    model: LeNet5
    config: TeacherConfig

    def save(self, output_dir: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` then ``config.json`` (atomically) into ``output_dir``."""
        output_dir = Path(output_dir)
        atomic_save_safetensors(self.model.state_dict(), output_dir / WEIGHTS_NAME, metadata=WEIGHTS_METADATA)
        atomic_write_json(output_dir / CONFIG_NAME, self.config.to_dict())
        return output_dir

    def weights_sha256(self) -> str:
        """``provenance.tensors_sha256`` of the weights: equal for equal weights, saved or not."""
        return tensors_sha256(self.model.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Teacher":
        """Load a folder written by ``save``, checking config and weight names/shapes (no pickle)."""
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
