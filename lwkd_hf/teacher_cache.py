"""A cache of trained lightweight teachers, shared by every run, seed and dataset with the same K.

A teacher depends only on its recipe (K, per-class counts, seed, epochs, optimiser settings, the MNIST
files' checksum, the held-out set it is scored on) and on this module's ``TEACHER_CODE_VERSION``, not on
the target data: T1 serves every 10-class dataset. Entries live under ``$LWKD_CACHE_DIR`` (default
``~/.cache/lwkd_hf``) in ``teachers/<key>/`` as the usual ``model.safetensors`` + ``config.json``. An entry is
published by renaming a finished temporary folder, so a reader never sees half of one and two processes
racing on one key leave one valid entry. An entry that does not load, or whose config differs from the
request, is retrained with a warning, never trusted. The training device is not part of the key: a teacher
trained on a GPU serves CPU runs and the other way round (their accuracies agree within 0.3 points,
``tests/test_teacher_training.py``), so which device trained a cached teacher depends on who filled the cache first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from .teacher import Teacher

logger = logging.getLogger(__name__)

CACHE_ENV = "LWKD_CACHE_DIR"
#: Bump when a change to synthesis or training changes the teacher a recipe produces.
TEACHER_CODE_VERSION = 3  # 2: LeNet5 channels-last; 3: conv3 as a matrix product (each rounds differently)
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


def _load(entry: Path, recipe: dict) -> tuple[Teacher | None, str | None]:
    """The entry's teacher if it loads and matches ``recipe``, else None and what is wrong with it."""
    try:
        teacher = Teacher.load(entry)
    except (OSError, ValueError) as err:
        return None, f"is unreadable ({err})"
    stored = teacher.config.to_dict()
    differing = [name for name in RECIPE_FIELDS if stored[name] != recipe[name]]
    if differing:
        return None, f"does not match the request in {differing}"
    return teacher, None


def lookup(cache_dir: str | os.PathLike, recipe: dict) -> Teacher | None:
    """The cached teacher for ``recipe``, or None (a missing, unreadable or mismatched entry)."""
    entry = entry_dir(cache_dir, recipe)
    if not entry.exists():
        return None
    teacher, problem = _load(entry, recipe)
    if teacher is None:
        logger.warning(f"teacher cache entry {entry} {problem}; retraining it")
        return None
    config = teacher.config
    accuracy = f"{config.test_accuracy:.4f}" if config.test_accuracy is not None else "not measured"
    logger.info(f"reusing teacher {entry} trained on {config.mnist_source} (K={config.num_classes}, "
                f"{sum(config.per_class):,} images, {config.epochs} epochs, seed {config.seed}), "
                f"test accuracy {accuracy}")
    return teacher


def store(cache_dir: str | os.PathLike, teacher: Teacher) -> Path:
    """Publish ``teacher`` under its recipe's key. A valid entry already there (another process was faster) is
    kept; a bad one is moved aside and replaced. Publishing is one ``rename`` of a finished folder."""
    recipe = teacher.config.to_dict()
    entry = entry_dir(cache_dir, recipe)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    aside = entry.parent / f".{entry.name}.{os.getpid()}.bad"
    try:
        teacher.save(tmp)
        os.chmod(tmp, 0o755)
        if entry.exists():
            if _load(entry, recipe)[0] is not None:
                logger.info(f"teacher cache entry {entry} was written by another process; keeping it")
                return entry
            try:
                os.rename(entry, aside)
            except OSError:
                pass  # another process moved or replaced it meanwhile
        try:
            os.rename(tmp, entry)  # atomic; fails if a racing process published first
        except OSError:
            if _load(entry, recipe)[0] is None:
                raise
            logger.info(f"teacher cache entry {entry} was written by another process; keeping it")
    finally:
        for leftover in (tmp, aside):
            if leftover.exists():
                shutil.rmtree(leftover)
    return entry
