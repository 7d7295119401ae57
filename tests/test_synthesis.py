import gzip
import hashlib
import re

import datasets
import numpy as np
import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F

from lwkd_hf.synthesis import (
    MNISTDigits,
    concat_and_resize,
    load_mnist,
    make_synmnist,
    synmnist_arrays,
    synmnist_class_names,
)

TRAIN_DIGIT_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_DIGIT_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train(mnist_dir):
    return load_mnist(mnist_dir, "train")


@pytest.fixture(scope="module")
def test_split(mnist_dir):
    return load_mnist(mnist_dir, "test")


@pytest.fixture(scope="module")
def fake():
    """A tiny MNIST with exactly one random image per digit, so every choice is known."""
    images = np.random.default_rng(123).integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    return MNISTDigits(images=images, labels=np.arange(10, dtype=np.int64), source="fake", sha256="")


def write_idx(path, magic, dims, payload: bytes):
    path.write_bytes(np.array([magic, *dims], dtype=">u4").tobytes() + payload)
    return path


def write_split(folder, n_images=3, n_labels=3, image_magic=2051, rows=28, image_bytes=None, labels=None):
    images = write_idx(
        folder / "t10k-images-idx3-ubyte",
        image_magic,
        [n_images, rows, 28],
        bytes(n_images * rows * 28) if image_bytes is None else image_bytes,
    )
    label_file = write_idx(
        folder / "t10k-labels-idx1-ubyte", 2049, [n_labels], bytes(labels if labels is not None else [1] * n_labels)
    )
    return images, label_file


# --- loading ------------------------------------------------------------------------------


def test_real_mnist_counts_and_first_labels(mnist_dir, train, test_split):
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == np.uint8
    assert train.labels.shape == (60000,) and train.labels.dtype == np.int64
    assert test_split.images.shape == (10000, 28, 28)
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(train.labels).tolist() == TRAIN_DIGIT_COUNTS
    assert np.bincount(test_split.labels).tolist() == TEST_DIGIT_COUNTS
    assert train.source == f"idx:{mnist_dir.resolve()}"
    assert not train.images.flags.writeable and not train.labels.flags.writeable


def test_sha256_is_over_decompressed_images_then_labels(mnist_dir, train):
    digest = hashlib.sha256()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        digest.update(gzip.decompress((mnist_dir / name).read_bytes()))
    assert train.sha256 == digest.hexdigest()
    assert train.sha256 == "c5097fdd51cfdbe7695fd9df3612695696864b5c424f58d843ffdc5d335e9914"


def test_load_is_cached_and_source_round_trips(mnist_dir, train):
    assert load_mnist(mnist_dir) is train
    assert load_mnist(str(mnist_dir), "train") is train
    assert load_mnist(train.source) is train


def test_gz_and_raw_load_identically(tmp_path, mnist_dir, test_split):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    raw = load_mnist(tmp_path, "test")
    assert np.array_equal(raw.images, test_split.images)
    assert np.array_equal(raw.labels, test_split.labels)
    assert raw.sha256 == test_split.sha256


def test_bad_split_is_rejected(mnist_dir):
    with pytest.raises(ValueError, match="'validation'"):
        load_mnist(mnist_dir, "validation")


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope"))):
        load_mnist(tmp_path / "nope")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", 2051, [1, 28, 28], bytes(784))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "t10k-labels-idx1-ubyte"))):
        load_mnist(tmp_path, "test")


def test_wrong_magic_names_file_expected_and_got(tmp_path):
    images, _ = write_split(tmp_path, image_magic=2049)
    with pytest.raises(ValueError, match=re.escape(f"{images}: expected magic number 2051, got 2049")):
        load_mnist(tmp_path, "test")


def test_wrong_image_size(tmp_path):
    images, _ = write_split(tmp_path, rows=27)
    with pytest.raises(ValueError, match=re.escape(f"{images}: expected 28x28 images, got 27x28")):
        load_mnist(tmp_path, "test")


def test_truncated_payload(tmp_path):
    images, _ = write_split(tmp_path, image_bytes=bytes(3 * 784 - 1))
    with pytest.raises(ValueError, match=re.escape(f"{images}: header promises (3, 28, 28) = 2352 payload bytes, got 2351")):
        load_mnist(tmp_path, "test")


def test_truncated_header(tmp_path):
    write_split(tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:6])
    with pytest.raises(ValueError, match=re.escape(f"{labels}: expected a 8-byte IDX header, got 6 bytes")):
        load_mnist(tmp_path, "test")


@pytest.mark.parametrize("damage", ["truncate", "flip crc"])
def test_corrupt_gzip(tmp_path, damage):
    images, _ = write_split(tmp_path)
    data = bytearray(gzip.compress(images.read_bytes()))
    images.unlink()
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    if damage == "truncate":
        del data[len(data) // 2 :]
    else:
        data[-5] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(f"{bad}: corrupt gzip data")):
        load_mnist(tmp_path, "test")


def test_count_mismatch_names_both_files(tmp_path):
    images, labels = write_split(tmp_path, n_images=3, n_labels=2)
    with pytest.raises(ValueError, match=re.escape(f"{images} holds 3 images but {labels} holds 2 labels")):
        load_mnist(tmp_path, "test")


def test_label_out_of_range(tmp_path):
    _, labels = write_split(tmp_path, labels=[1, 12, 3])
    with pytest.raises(ValueError, match=re.escape(f"{labels}: expected labels 0..9, got a label 12")):
        load_mnist(tmp_path, "test")


# --- class names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "k, first, last",
    [(2, "0", "1"), (10, "0", "9"), (11, "00", "10"), (15, "00", "14"), (100, "00", "99"),
     (101, "000", "100"), (1000, "000", "999"), (1001, "0000", "1000")],
)
def test_class_names(k, first, last):
    names = synmnist_class_names(k)
    assert (len(names), names[0], names[-1]) == (k, first, last)
    assert len(set(names)) == k and len({len(n) for n in names}) == 1


@pytest.mark.parametrize("k", [1, 0, -5, 2.0, True])
def test_class_names_reject_bad_k(k):
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        synmnist_class_names(k)


# --- synthesis ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [10, 15, 100, 101, 1000])
def test_shapes_and_counts(train, k):
    images, labels = synmnist_arrays(k, 2, mnist=train)
    assert images.shape == (2 * k, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [2] * k
    assert labels.tolist() == sorted(labels.tolist())


def test_deterministic_for_a_seed(train):
    a = synmnist_arrays(100, 5, mnist=train, seed=7)
    b = synmnist_arrays(100, 5, mnist=train, seed=7)
    c = synmnist_arrays(100, 5, mnist=train, seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_per_class_list_gives_exact_counts(train):
    counts = list(range(15))
    _, labels = synmnist_arrays(15, counts, mnist=train)
    assert np.bincount(labels, minlength=15).tolist() == counts


def test_per_class_list_of_wrong_length(train):
    with pytest.raises(ValueError, match="expected 15, got 3"):
        synmnist_arrays(15, [1, 2, 3], mnist=train)
    with pytest.raises(ValueError, match="integers >= 0, got -1"):
        synmnist_arrays(10, -1, mnist=train)


def test_small_k_draws_exact_mnist_images_without_replacement(test_split):
    """K <= 10 is MNIST itself: asking for every test digit returns each test image exactly once."""
    images, labels = synmnist_arrays(10, TEST_DIGIT_COUNTS, mnist=test_split, seed=3)
    for digit in range(10):
        got = sorted(img.tobytes() for img in images[labels == digit])
        want = sorted(img.tobytes() for img in test_split.images[test_split.labels == digit])
        assert got == want


def test_small_k_uses_only_digits_below_k(train):
    images, labels = synmnist_arrays(4, 50, mnist=train, seed=1)
    lookup = {img.tobytes(): int(lab) for img, lab in zip(train.images, train.labels)}
    assert [lookup[img.tobytes()] for img in images] == labels.tolist()


def test_small_k_repeats_beyond_the_available_count(fake):
    images, labels = synmnist_arrays(3, 4, mnist=fake)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert np.array_equal(images, np.repeat(fake.images[:3], 4, axis=0))


def test_split_selects_mnist_test_digits(mnist_dir, test_split):
    images, _ = synmnist_arrays(10, 20, mnist=mnist_dir, split="test", seed=0)
    test_set = {img.tobytes() for img in test_split.images}
    assert all(img.tobytes() in test_set for img in images)


@pytest.mark.parametrize("k, name", [(100, "07"), (15, "14"), (101, "100"), (1000, "123")])
def test_large_k_is_resize_of_concatenated_digits(fake, k, name):
    """Algorithm 1: class "07" is concat(image of 0, image of 7) resized to 28x28."""
    images, labels = synmnist_arrays(k, 3, mnist=fake)
    cls = synmnist_class_names(k).index(name)
    strip = np.concatenate([fake.images[int(d)] for d in name], axis=1).astype(np.float32)
    assert strip.shape == (28, 28 * len(name))
    area = F.interpolate(torch.from_numpy(strip)[None, None], size=(28, 28), mode="area")[0, 0]
    expected = torch.round(area).to(torch.uint8).numpy()
    by_hand = np.rint(strip.reshape(28, 28, len(name)).mean(-1)).astype(np.uint8)
    assert np.array_equal(expected, by_hand)
    assert np.array_equal(images[labels == cls], np.stack([expected] * 3))


def test_concat_and_resize_two_digits_averages_column_pairs():
    parts = np.zeros((1, 2, 28, 28), dtype=np.uint8)
    parts[0, 0, :, 0] = 100  # column 0 of the first digit
    parts[0, 1, :, 27] = 51  # last column of the second digit
    out = concat_and_resize(parts)[0]
    assert out[:, 0].tolist() == [50] * 28  # mean(100, 0)
    assert out[:, 27].tolist() == [26] * 28  # mean(0, 51) = 25.5 rounds half to even
    assert int(out[:, 1:27].max()) == 0


def test_large_k_uses_real_digit_images(train):
    """Every SynMNIST-100 example of class "38" is the resize of some 3 and some 8."""
    images, labels = synmnist_arrays(100, 4, mnist=train, seed=5)
    halves = {d: np.rint(train.images[train.labels == d].reshape(-1, 28, 14, 2).mean(-1)) for d in (3, 8)}
    left, right = halves[3].astype(np.uint8), halves[8].astype(np.uint8)
    for img in images[labels == 38]:
        assert (left == img[:, :14]).all(axis=(1, 2)).any()
        assert (right == img[:, 14:]).all(axis=(1, 2)).any()


def test_missing_digit_is_rejected(fake):
    no_sevens = MNISTDigits(fake.images[:7], fake.labels[:7], "fake", "")
    with pytest.raises(ValueError, match="class '07' needs images of digit 7"):
        synmnist_arrays(100, 1, mnist=no_sevens)


def test_make_synmnist_dataset(train):
    ds = make_synmnist(100, 3, mnist=train, seed=2)
    images, labels = synmnist_arrays(100, 3, mnist=train, seed=2)
    assert isinstance(ds, datasets.Dataset) and len(ds) == 300
    assert ds.features["image"] == datasets.Array2D(shape=(28, 28), dtype="uint8")
    assert ds.features["label"].names == synmnist_class_names(100)
    assert ds.features["label"].int2str(7) == "07"
    assert ds.data.column("image").type.storage_type == pa.list_(pa.list_(pa.uint8()))
    arrays = ds.with_format("numpy")[:]  # the numpy formatter widens integers to int64
    assert np.array_equal(arrays["image"], images)
    assert np.array_equal(arrays["label"], labels)
