"""lwkd-hf: LW-KD (Learning from a Lightweight Teacher for Efficient Knowledge Distillation) for HF Transformers.

The LW-KD core sits at the package root: the teacher and its training, the soft-target column, the loss
terms, the discriminator, ``LWKDConfig`` and ``LWKDTrainer``. The text application (the paper's Chinese-news
data, tokenizer and students) is ``lwkd_hf.text``; importing the package registers its students with
``AutoConfig``, ``AutoModelForSequenceClassification`` and ``AutoTokenizer``.
"""

from . import text  # noqa: F401  (registers the text students with the Auto classes)
from .columns import TEACHER_LOGITS_COLUMN
from .config import LWKDConfig
from .discriminator import Discriminator
from .metrics import compute_metrics, load_metric
from .soft_targets import add_teacher_logits, shift_to_label
from .synthesis import load_mnist, make_synmnist
from .teacher import LeNet5, Teacher, TeacherConfig
from .teacher_training import train_teacher
from .text import build_student
from .trainer import LWKDTrainer

__version__ = "0.1.0"

__all__ = [
    "Discriminator",
    "LWKDConfig",
    "LWKDTrainer",
    "LeNet5",
    "TEACHER_LOGITS_COLUMN",
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
