"""Shared set-up: an offline, cache-isolated environment; the data folders; small models, datasets and arguments.

The data fixtures skip a test whose data folder is missing, with the path in the reason; with
``LWKD_REQUIRE_DATA=1`` (CI sets it) they fail it instead, so a run can never pass on missing data.
The builders (``build_tiny_bert``, ``build_toy_dataset``, ``build_args``, ``build_labelled``) are plain functions,
so ``tests/integration/distributed_job.py`` can import them; tests get them through the fixtures of the same
names without ``build_``.
"""

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")
# a fresh teacher cache per test session: tests never see (or fill) the user's ~/.cache/lwkd_hf
os.environ["LWKD_CACHE_DIR"] = tempfile.mkdtemp(prefix="lwkd-test-cache-")
atexit.register(shutil.rmtree, os.environ["LWKD_CACHE_DIR"], ignore_errors=True)

# imported after the offline switches above, which the Hugging Face libraries read when imported
import datasets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

from lwkd_hf.columns import TEACHER_LOGITS_COLUMN  # noqa: E402
from lwkd_hf.config import LWKDConfig  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]

#: ``LWKD_REQUIRE_DATA=1`` turns a missing data folder from a skip into a failure.
REQUIRE_DATA_VARIABLE = "LWKD_REQUIRE_DATA"


# ----------------------------------------------------------------------------------------------- data folders


def data_dir() -> Path:
    """The offline data folder: $LWKD_DATA_DIR, defaulting to ../shared/data beside the checkout."""
    return Path(os.environ.get("LWKD_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).resolve()


def data_required() -> bool:
    return os.environ.get(REQUIRE_DATA_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def require_data(subfolder: str | None = None) -> Path:
    """The data folder (or its ``subfolder``); skips the test when it is missing, fails it under LWKD_REQUIRE_DATA=1."""
    root = data_dir()
    path = root / subfolder if subfolder else root
    if not path.is_dir():
        message = (
            f"offline data not found: no folder {path}; set LWKD_DATA_DIR to the data folder "
            f"(default: ../shared/data beside the checkout)"
        )
        if data_required():
            pytest.fail(f"{message} ({REQUIRE_DATA_VARIABLE} is set, so missing data fails the run)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return require_data("mnist")


@pytest.fixture(scope="session")
def thucnews_dir() -> Path:
    return require_data("thucnews")


@pytest.fixture(scope="session")
def toutiao_dir() -> Path:
    return require_data("toutiao")


# ----------------------------------------------------------------------------------------------- scripts


def load_script(path: Path, name: str):
    """A script of the repository (examples/, benchmarks/: no packages) as a module, from its file. It is
    registered in sys.modules before it runs: dataclasses (and HfArgumentParser's type hints) look their string
    annotations up in their module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------- builders

VOCAB = 40
SEQ = 6


def build_tiny_bert(num_labels: int = 4, seed: int = 0) -> BertForSequenceClassification:
    """A 2-layer-free BERT without dropout, so runs are exactly reproducible."""
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=SEQ,
        num_labels=num_labels,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    return BertForSequenceClassification(config)


def build_toy_dataset(n: int = 64, num_labels: int = 4, seed: int = 0, with_teacher: bool = True) -> datasets.Dataset:
    """Random token ids, labels, and teacher logits whose argmax is the label; plus an unused text column."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_labels, n)
    columns = {
        "input_ids": rng.integers(1, VOCAB, (n, SEQ)).tolist(),
        "label": labels.tolist(),
        "text": [f"example {i}" for i in range(n)],
    }
    if with_teacher:
        logits = rng.normal(size=(n, num_labels)).astype(np.float32)
        logits[np.arange(n), labels] = logits.max(axis=1) + 1.0
        columns[TEACHER_LOGITS_COLUMN] = logits.tolist()
    return datasets.Dataset.from_dict(columns)


def build_args(output_dir, **overrides) -> LWKDConfig:
    settings = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        num_train_epochs=1,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        seed=7,
    )
    settings.update(overrides)
    return LWKDConfig(**settings)


def build_labelled(labels, num_classes=10) -> datasets.Dataset:
    """A text dataset with the given labels as a ClassLabel of ``num_classes`` classes."""
    return datasets.Dataset.from_dict(
        {"text": [f"t{i}" for i in range(len(labels))], "label": list(labels)},
        features=datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(num_classes=num_classes)}
        ),
    )


@pytest.fixture
def tiny_bert():
    """:func:`build_tiny_bert`: call it, ``tiny_bert(num_labels=5)``."""
    return build_tiny_bert


@pytest.fixture
def toy_dataset():
    """:func:`build_toy_dataset`: call it, ``toy_dataset(32, seed=1, with_teacher=False)``."""
    return build_toy_dataset


@pytest.fixture
def make_args():
    """:func:`build_args`: call it, ``make_args(tmp_path, max_steps=2)``."""
    return build_args


@pytest.fixture
def labelled():
    """:func:`build_labelled`: call it, ``labelled([0, 1, 2], num_classes=15)``."""
    return build_labelled
