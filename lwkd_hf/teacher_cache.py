"""A cache of trained lightweight teachers, shared by every run, seed and dataset with the same K.

A teacher depends only on its recipe (K, per-class counts, seed, epochs, optimiser settings, the MNIST
files' checksum, the held-out set it is scored on) and on this module's ``TEACHER_CODE_VERSION``, not on
the target data: T1 serves every 10-class dataset. Entries live under ``$LWKD_CACHE_DIR`` (default
``~/.cache/lwkd_hf``) in ``teachers/<key>/`` as the usual ``model.safetensors`` + ``config.json``. An entry is
published by renaming a finished temporary folder, so a reader never sees half of one and two processes
racing on one key leave one valid entry. An entry that does not load, or whose config differs from the
request, is retrained with a warning, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from .atomic import atomic_dir
from .teacher import Teacher

logger = logging.getLogger(__name__)

CACHE_ENV = "LWKD_CACHE_DIR"
#: Bump when a change to synthesis or training changes the teacher a recipe produces.
TEACHER_CODE_VERSION = 1
#: ``TeacherConfig`` fields that make up a recipe (everything but the measured results).
RECIPE_FIELDS = ("num_classes", "per_class", "seed", "epochs", "learning_rate", "batch_size", "momentum",
                 "weight_decay", "lr_schedule", "mnist_sha256", "test_examples")


def default_cache_dir() -> Path:
    """``$LWKD_CACHE_DIR``, else ``~/.cache/lwkd_hf``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lwkd_hf")


def recipe_key(recipe: dict) -> str:
    """A short hash of the recipe's fields and the code version."""
    payload = {name: recipe[name] for name in RECIPE_FIELDS} | {"code_version": TEACHER_CODE_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def entry_dir(cache_dir: str | os.PathLike, recipe: dict) -> Path:
    return Path(cache_dir) / "teachers" / f"K{recipe['num_classes']}-seed{recipe['seed']}-{recipe_key(recipe)}"


def lookup(cache_dir: str | os.PathLike, recipe: dict) -> Teacher | None:
    """The cached teacher for ``recipe``, or None (a missing, unreadable or mismatched entry)."""
    entry = entry_dir(cache_dir, recipe)
    if not entry.exists():
        return None
    try:
        teacher = Teacher.load(entry)
    except (OSError, ValueError) as err:
        logger.warning(f"teacher cache entry {entry} is unreadable ({err}); retraining it")
        return None
    stored = teacher.config.to_dict()
    differing = [name for name in RECIPE_FIELDS if stored[name] != recipe[name]]
    if differing:
        logger.warning(f"teacher cache entry {entry} does not match the request in {differing}; retraining it")
        return None
    config = teacher.config
    logger.info(f"reusing teacher {entry} trained on {config.mnist_source} (K={config.num_classes}, "
                f"{sum(config.per_class):,} images, {config.epochs} epochs, seed {config.seed}), "
                f"test accuracy {config.test_accuracy:.4f}")
    return teacher


def store(cache_dir: str | os.PathLike, teacher: Teacher) -> Path:
    """Publish ``teacher`` under its recipe's key; if another process published it first, keep theirs."""
    recipe = teacher.config.to_dict()
    entry = entry_dir(cache_dir, recipe)
    entry.parent.mkdir(parents=True, exist_ok=True)
    if entry.exists():  # a bad entry that lookup refused: replace it as a whole
        with atomic_dir(entry) as tmp:
            teacher.save(tmp)
        return entry
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        teacher.save(tmp)
        os.chmod(tmp, 0o755)
        os.rename(tmp, entry)  # atomic; fails if a racing process got there first
    except OSError:
        if not (entry / "config.json").is_file():
            raise
        logger.info(f"teacher cache entry {entry} was written by another process; keeping it")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return entry
