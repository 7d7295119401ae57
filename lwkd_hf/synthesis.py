"""SynMNIST: the synthetic digit dataset the lightweight teacher is trained on (paper Algorithm 1).

Class ``k`` of a ``K``-class SynMNIST is the decimal number ``k`` written with as many digits as
``K - 1`` has. An example of it is made by picking one MNIST image per digit of that name,
concatenating them left to right and resizing the strip back to 28x28. For ``K <= 10`` SynMNIST is
plain MNIST restricted to the digits ``0..K-1``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from tqdm.auto import tqdm

IMAGE_SIZE = 28
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
SPLITS = ("train", "test")
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True, eq=False)
class MNISTDigits:
    """One split of MNIST as read-only arrays.

    ``source`` is ``"idx:<folder>"`` or ``"hub:<dataset id>"`` and can be passed back to
    ``load_mnist``. ``sha256`` is the hex sha256 over the (decompressed) IDX bytes of the
    images file followed by the labels file, so gzipped and raw copies of the same data agree.
    """

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    source: str
    sha256: str


MNISTSource = Union[str, os.PathLike, MNISTDigits]


def load_mnist(source: str | os.PathLike, split: str = "train") -> MNISTDigits:
    """Load one MNIST split from a folder of the four standard IDX files (gzipped or not) or the Hub.

    ``source`` is a folder, a Hub dataset id such as ``"ylecun/mnist"``, or an ``"idx:"``/``"hub:"``
    string as stored in ``MNISTDigits.source``. An existing folder wins over a Hub id.
    Results are cached per (source, split); the returned arrays are read-only.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    kind, location = _resolve_source(source)
    return _load_cached(kind, location, split)


def _resolve_source(source: str | os.PathLike) -> tuple[str, str]:
    if isinstance(source, str):
        if source.startswith("idx:"):
            return "idx", str(Path(source[4:]).resolve())
        if source.startswith("hub:"):
            return "hub", source[4:]
        if not Path(source).is_dir() and _HUB_ID.match(source):
            return "hub", source
    path = Path(source)
    if not path.is_dir():
        raise FileNotFoundError(f"MNIST folder not found: {path}")
    return "idx", str(path.resolve())


@functools.lru_cache(maxsize=8)
def _load_cached(kind: str, location: str, split: str) -> MNISTDigits:
    if kind == "hub":
        images, labels = _read_hub(location, split)
        digest = hashlib.sha256()
        digest.update(_idx_header(IMAGES_MAGIC, images.shape) + images.tobytes())
        digest.update(_idx_header(LABELS_MAGIC, labels.shape) + labels.astype(np.uint8).tobytes())
    else:
        folder = Path(location)
        images_path = _find_idx(folder, f"{_IDX_PREFIX[split]}-images-idx3-ubyte")
        labels_path = _find_idx(folder, f"{_IDX_PREFIX[split]}-labels-idx1-ubyte")
        images_bytes, labels_bytes = _read_bytes(images_path), _read_bytes(labels_path)
        images = _parse_idx(images_bytes, images_path, IMAGES_MAGIC)
        labels = _parse_idx(labels_bytes, labels_path, LABELS_MAGIC).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(
                f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
                "expected equal counts"
            )
        if labels.size and labels.max() > 9:
            raise ValueError(f"{labels_path}: expected labels 0..9, got a label {labels.max()}")
        digest = hashlib.sha256(images_bytes)
        digest.update(labels_bytes)
    images.setflags(write=False)
    labels.setflags(write=False)
    return MNISTDigits(images=images, labels=labels, source=f"{kind}:{location}", sha256=digest.hexdigest())


def _read_hub(dataset_id: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    import datasets

    ds = datasets.load_dataset(dataset_id, split=split)
    images = np.stack([np.asarray(image, dtype=np.uint8) for image in ds["image"]])
    labels = np.asarray(ds["label"], dtype=np.int64)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels):
        raise ValueError(
            f"Hub dataset {dataset_id!r} split {split!r}: expected (N, 28, 28) images with N labels, "
            f"got images {images.shape} and {len(labels)} labels"
        )
    return images, labels


def _find_idx(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST file not found: {folder / name} (or {name}.gz)")


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt gzip data ({err})") from err


def _idx_header(magic: int, shape: tuple[int, ...]) -> bytes:
    return np.array([magic, *shape], dtype=">u4").tobytes()


def _parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file (big-endian header: magic, counts) into a uint8 array, strictly."""
    ndim = magic & 0xFF
    header_len = 4 * (1 + ndim)
    if len(data) < header_len:
        raise ValueError(f"{path}: expected a {header_len}-byte IDX header, got {len(data)} bytes")
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: expected magic number {magic}, got {int(header[0])}")
    shape = tuple(int(d) for d in header[1:])
    if shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)[: ndim - 1]:
        raise ValueError(f"{path}: expected {IMAGE_SIZE}x{IMAGE_SIZE} images, got {shape[1]}x{shape[2]}")
    expected = int(np.prod(shape))
    got = len(data) - header_len
    if got != expected:
        raise ValueError(
            f"{path}: header promises {shape} = {expected} payload bytes, got {got} "
            f"({'truncated' if got < expected else 'trailing data'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape).copy()


def synmnist_class_names(num_classes: int) -> list[str]:
    """Names of the SynMNIST classes: ``k`` zero-padded to the width of ``K - 1`` (K=100: "00".."99")."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    width = len(str(num_classes - 1))
    return [str(k).zfill(width) for k in range(num_classes)]


def per_class_counts(num_classes: int, per_class: int | Sequence[int]) -> list[int]:
    """``per_class`` (one count, or K counts) as a checked list of K counts."""
    counts = [per_class] * num_classes if np.ndim(per_class) == 0 else list(per_class)
    if len(counts) != num_classes:
        raise ValueError(f"per_class must hold one count per class: expected {num_classes}, got {len(counts)}")
    for count in counts:
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"per_class counts must be integers >= 0, got {count!r}")
    return [int(c) for c in counts]


def _as_digits(mnist: MNISTSource, split: str) -> MNISTDigits:
    return mnist if isinstance(mnist, MNISTDigits) else load_mnist(mnist, split)


def _sample(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    """``count`` indices from ``pool``: without replacement while possible, then with replacement."""
    order = rng.permutation(pool)
    if count <= len(order):
        return order[:count]
    return np.concatenate([order, rng.choice(pool, size=count - len(order))])


def synmnist_arrays(
    num_classes: int,
    per_class: int | Sequence[int],
    *,
    mnist: MNISTSource,
    split: str = "train",
    seed: int = 0,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesize SynMNIST-K as arrays (paper Algorithm 1): images (N, 28, 28) uint8, labels (N,) int64.

    ``per_class`` is one count for every class or a sequence of ``K`` counts. ``mnist`` is an
    ``MNISTDigits`` or a source for ``load_mnist`` (read with ``split``). Rows are ordered
    class by class; the result is a deterministic function of the digits and ``seed``.
    """
    names = synmnist_class_names(num_classes)
    counts = per_class_counts(num_classes, per_class)
    digits = _as_digits(mnist, split)
    pools = [np.flatnonzero(digits.labels == d) for d in range(10)]
    rng = np.random.default_rng(seed)
    images = np.empty((sum(counts), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    start = 0
    for name, count in tqdm(zip(names, counts), total=num_classes, desc="SynMNIST", disable=not progress):
        if count == 0:
            continue
        for d in map(int, name):
            if len(pools[d]) == 0:
                raise ValueError(f"class {name!r} needs images of digit {d}, but {digits.source} has none")
        if num_classes <= 10:
            images[start : start + count] = digits.images[_sample(rng, pools[int(name)], count)]
        else:
            parts = [digits.images[rng.choice(pools[int(d)], size=count)] for d in name]
            images[start : start + count] = concat_and_resize(np.stack(parts, axis=1))
        start += count
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), counts)
    return images, labels


def concat_and_resize(parts: np.ndarray) -> np.ndarray:
    """Concatenate (n, d, 28, 28) digit images left to right and resize each strip to 28x28.

    The strip is 28 x 28d, so area interpolation (``F.interpolate(mode="area")``) reduces to the
    mean over each run of ``d`` adjacent columns; it is rounded half to even.
    """
    n, d = parts.shape[:2]
    strips = parts.transpose(0, 2, 1, 3).reshape(n, IMAGE_SIZE, IMAGE_SIZE, d)
    return np.rint(strips.mean(axis=-1, dtype=np.float32)).astype(np.uint8)


def make_synmnist(
    num_classes: int,
    per_class: int | Sequence[int],
    *,
    mnist: MNISTSource,
    split: str = "train",
    seed: int = 0,
    progress: bool = False,
):
    """SynMNIST-K (paper Algorithm 1) as a ``datasets.Dataset`` with ``image`` and ``label`` columns.

    Same arguments as ``synmnist_arrays``; ``label`` is a ``ClassLabel`` named by
    ``synmnist_class_names``.
    """
    import datasets

    images, labels = synmnist_arrays(num_classes, per_class, mnist=mnist, split=split, seed=seed, progress=progress)
    features = datasets.Features(
        {
            "image": datasets.Array2D(shape=(IMAGE_SIZE, IMAGE_SIZE), dtype="uint8"),
            "label": datasets.ClassLabel(names=synmnist_class_names(num_classes)),
        }
    )
    return datasets.Dataset.from_dict({"image": images, "label": labels}, features=features)
