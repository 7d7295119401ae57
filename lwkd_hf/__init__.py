"""lwkd-hf: LW-KD (Learning from a Lightweight Teacher for Efficient Knowledge Distillation) for HF Transformers.

Importing the package also registers its text students with ``AutoConfig``,
``AutoModelForSequenceClassification`` and ``AutoTokenizer``.
"""

from .config import LWKDConfig
from .discriminator import Discriminator
from .metrics import compute_metrics, load_metric
from .soft_targets import add_teacher_logits, shift_to_label
from .synthesis import load_mnist, make_synmnist
from .teacher import LeNet5, Teacher, TeacherConfig, train_teacher
from .text_models import build_student  # noqa: F401  (registers the Auto classes)
from .trainer import LWKDTrainer

__version__ = "0.1.0"

__all__ = [
    "Discriminator",
    "LWKDConfig",
    "LWKDTrainer",
    "LeNet5",
    "Teacher",
    "TeacherConfig",
    "add_teacher_logits",
    "build_student",
    "compute_metrics",
    "load_metric",
    "load_mnist",
    "make_synmnist",
    "shift_to_label",
    "train_teacher",
]
