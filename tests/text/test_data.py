"""The THUCNews and Toutiao readers, the stratified 18:1:1 split, and the hub-style split preparation."""

from collections import Counter

import numpy as np
import pytest
from datasets import ClassLabel

from lwkd_hf.text.data import (
    TOUTIAO_CLASS_NAMES,
    load_text_classification,
    load_thucnews,
    load_toutiao,
    stratified_split,
)

THUCNEWS_CLASSES = ["finance", "realty", "stocks", "education", "science", "society", "politics", "sports", "game", "entertainment"]
TOUTIAO_PER_LABEL = [608, 2812, 3854, 3765, 2669, 1810, 3548, 2557, 4212, 2563, 2261, 2642, 35, 1984, 2950]


def label_counts(dataset):
    counts = Counter(dataset["label"])
    return [counts[i] for i in range(dataset.features["label"].num_classes)]


# ----------------------------------------------------------------------------------------------- stratified_split


def test_stratified_split_exact_small_case():
    labels = [0] * 20 + [1] * 3 + [2] * 2
    train, val, test = stratified_split(labels, (18, 1, 1), seed=0)
    # class 0: 18/1/1; class 1 (3 examples): one per split; class 2 (2 examples): both in train
    assert (len(train), len(val), len(test)) == (21, 2, 2)
    for part in (train, val, test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(25))
    labels = np.asarray(labels)
    assert Counter(labels[train].tolist()) == {0: 18, 1: 1, 2: 2}
    assert Counter(labels[val].tolist()) == {0: 1, 1: 1}
    assert Counter(labels[test].tolist()) == {0: 1, 1: 1}


def test_stratified_split_every_class_with_three_examples_in_every_split():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 12, size=400).tolist() + [12, 12, 12, 13, 13, 13, 13]
    parts = stratified_split(labels, seed=5)
    labels = np.asarray(labels)
    for part in parts:
        assert set(labels[part].tolist()) == set(range(14))
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))


def test_stratified_split_is_seeded():
    labels = [i % 4 for i in range(200)]
    a = stratified_split(labels, seed=1)
    b = stratified_split(labels, seed=1)
    c = stratified_split(labels, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert [len(p) for p in a] == [180, 10, 10]


def test_stratified_split_two_parts_and_bad_ratios():
    train, test = stratified_split([0] * 19 + [1] * 19, (18, 1), seed=0)
    assert (len(train), len(test)) == (36, 2)
    with pytest.raises(ValueError):
        stratified_split([0, 1], (0, 0), seed=0)
    with pytest.raises(ValueError):
        stratified_split([0, 1], (1, -1), seed=0)


# ----------------------------------------------------------------------------------------------- THUCNews


@pytest.fixture(scope="module")
def thucnews(thucnews_dir):
    return load_thucnews(thucnews_dir)


def test_thucnews_real_data(thucnews):
    assert list(thucnews) == ["train", "validation", "test"]
    assert {s: len(d) for s, d in thucnews.items()} == {"train": 45000, "validation": 10000, "test": 10000}
    assert label_counts(thucnews["train"]) == [4480, 4508, 4529, 4424, 4477, 4515, 4486, 4472, 4530, 4579]
    assert label_counts(thucnews["validation"]) == [1000] * 10
    assert label_counts(thucnews["test"]) == [1000] * 10
    feature = thucnews["train"].features["label"]
    assert isinstance(feature, ClassLabel) and feature.names == THUCNEWS_CLASSES
    assert thucnews["train"][0] == {"text": "中华女子学院：本科层次仅1专业招男生", "label": 3}


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def tiny_thucnews(tmp_path, n_per_class=40, classes=("a", "b", "c")):
    write(tmp_path / "class.txt", "\n".join(classes))
    lines = [f"标题{i}号{c}\t{c}" for i in range(n_per_class) for c in range(len(classes))]
    return "\n".join(lines) + "\n"


def test_thucnews_only_train_is_split_18_1_1(tmp_path):
    write(tmp_path / "train.txt", tiny_thucnews(tmp_path))
    ds = load_thucnews(tmp_path, split_seed=7)
    assert {s: len(d) for s, d in ds.items()} == {"train": 108, "validation": 6, "test": 6}
    for split in ds.values():
        assert label_counts(split) == [len(split) // 3] * 3
    all_texts = [t for split in ds.values() for t in split["text"]]
    assert len(set(all_texts)) == 120
    again = load_thucnews(tmp_path, split_seed=7)
    assert again["test"]["text"] == ds["test"]["text"]


def test_thucnews_missing_test_is_carved_from_train(tmp_path):
    write(tmp_path / "train.txt", tiny_thucnews(tmp_path, n_per_class=19))
    write(tmp_path / "dev.txt", "开发\t0\n")
    ds = load_thucnews(tmp_path)
    assert {s: len(d) for s, d in ds.items()} == {"train": 54, "validation": 1, "test": 3}


def test_thucnews_train_file_choice(tmp_path):
    body = tiny_thucnews(tmp_path, n_per_class=20)
    write(tmp_path / "train_first45000.txt", body)
    write(tmp_path / "dev.txt", "开发\t1\n")
    write(tmp_path / "test.txt", "测试\t2\n")
    assert len(load_thucnews(tmp_path)["train"]) == 60
    write(tmp_path / "train.txt", "训练\t0\n")
    assert load_thucnews(tmp_path)["train"]["text"] == ["训练"]
    assert len(load_thucnews(tmp_path, train_file="train_first45000.txt")["train"]) == 60
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_thucnews(tmp_path, train_file="nope.txt")


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("只有标题没有标签", "2 tab-separated fields"),
        ("一\t1\t2", "2 tab-separated fields"),
        ("标题\tx", "integer label"),
        ("标题\t3", "label in 0..2"),
        ("标题\t-1", "label in 0..2"),
        ("\t1", "non-empty text"),
        ("", "2 tab-separated fields"),
    ],
)
def test_thucnews_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    body = tiny_thucnews(tmp_path, n_per_class=2) + bad_line + "\n" + "后面\t0\n"
    path = write(tmp_path / "train.txt", body)
    with pytest.raises(ValueError) as err:
        load_thucnews(tmp_path)
    assert str(path) in str(err.value)
    assert "line 7:" in str(err.value)
    assert message in str(err.value)


def test_thucnews_bad_class_list(tmp_path):
    write(tmp_path / "train.txt", "标题\t0\n")
    write(tmp_path / "class.txt", "a\n\nb")
    with pytest.raises(ValueError, match="line 2"):
        load_thucnews(tmp_path)
    (tmp_path / "class.txt").unlink()
    with pytest.raises(FileNotFoundError, match="class.txt"):
        load_thucnews(tmp_path)


# ----------------------------------------------------------------------------------------------- ToutiaoNews


def test_toutiao_real_sample_split_18_1_1(toutiao_dir):
    ds = load_toutiao(toutiao_dir)
    sizes = {s: len(d) for s, d in ds.items()}
    assert sum(sizes.values()) == 38270
    assert sizes == {"train": 34443, "validation": 1914, "test": 1913}
    total = np.sum([label_counts(d) for d in ds.values()], axis=0)
    assert total.tolist() == TOUTIAO_PER_LABEL
    for split in ds.values():
        assert min(label_counts(split)) >= 1  # even "stock" (35 examples) is in every split
    assert ds["train"].features["label"].names == TOUTIAO_CLASS_NAMES
    assert TOUTIAO_CLASS_NAMES[:3] == ["news_story", "news_culture", "news_entertainment"]
    assert TOUTIAO_CLASS_NAMES[12] == "stock"
    from_file = load_toutiao(toutiao_dir / "toutiao_test.txt")
    assert from_file["validation"]["text"] == ds["validation"]["text"]
    other_seed = load_toutiao(toutiao_dir, split_seed=1)
    assert other_seed["validation"]["text"] != ds["validation"]["text"]


ORIGINAL_LINES = [
    "6551700932705387022_!_101_!_news_culture_!_京城最值得你来场文化之旅的博物馆_!_保利集团,马未都,中国科学技术馆",
    "6552368441838272771_!_101_!_news_culture_!_发酵床的垫料种类有哪些？哪种更好？_!_",
    "6552407965343678723_!_102_!_news_entertainment_!_谢娜为李浩菲澄清网络谣言_!_佟丽娅,网络谣言",
    "6552332417753940238_!_100_!_news_story_!_民生故事一则_!_",
    "6552475601595269390_!_116_!_news_game_!_游戏新闻_!_王者荣耀",
    "6552387648126714125_!_114_!_stock_!_股票大涨_!_A股",
]


def test_toutiao_original_five_field_format(tmp_path):
    path = write(tmp_path / "toutiao_cat_data.txt", "\n".join(ORIGINAL_LINES * 5) + "\n")
    ds = load_toutiao(path)
    rows = ds["train"].to_list() + ds["validation"].to_list() + ds["test"].to_list()
    assert len(rows) == 30
    by_text = {r["text"]: r["label"] for r in rows}
    assert by_text == {
        "京城最值得你来场文化之旅的博物馆": 1,
        "发酵床的垫料种类有哪些？哪种更好？": 1,
        "谢娜为李浩菲澄清网络谣言": 2,
        "民生故事一则": 0,
        "游戏新闻": 14,
        "股票大涨": 12,
    }
    assert ds["train"].features["label"].names == TOUTIAO_CLASS_NAMES
    # the folder form finds the single file too
    assert load_toutiao(tmp_path)["test"]["text"] == ds["test"]["text"]


def test_toutiao_folder_with_split_files_mixed_formats(tmp_path):
    write(tmp_path / "toutiao_train.txt", "\n".join(ORIGINAL_LINES) + "\n")
    write(tmp_path / "toutiao_val.txt", "标题_!_带_!_分隔符_!_3\n")
    write(tmp_path / "toutiao_test.txt", "测试标题_!_14\n另一个_!_0\n")
    ds = load_toutiao(tmp_path)
    assert {s: len(d) for s, d in ds.items()} == {"train": 6, "validation": 1, "test": 2}
    assert ds["validation"][0] == {"text": "标题_!_带_!_分隔符", "label": 3}
    assert ds["test"]["label"] == [14, 0]


def test_toutiao_folder_ambiguous(tmp_path):
    write(tmp_path / "a.txt", "一_!_1\n")
    write(tmp_path / "b.txt", "二_!_2\n")
    with pytest.raises(ValueError, match="exactly one"):
        load_toutiao(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_toutiao(tmp_path / "missing")


@pytest.mark.parametrize(
    "first, bad_line, message",
    [
        ("标题_!_1", "没有分隔符", "2 fields"),
        ("标题_!_1", "标题_!_一", "integer label"),
        ("标题_!_1", "标题_!_15", "label in 0..14"),
        ("标题_!_1", "_!_3", "non-empty text"),
        (ORIGINAL_LINES[0], "1_!_101_!_news_culture_!_少一个字段", "5 fields"),
        (ORIGINAL_LINES[0], "1_!_105_!_news_x_!_未知代码_!_", "category code"),
        (ORIGINAL_LINES[0], "1_!_abc_!_news_x_!_不是数字_!_", "category code"),
        (ORIGINAL_LINES[0], "1_!_101_!_news_story_!_名称不符_!_", "category name"),
        (ORIGINAL_LINES[0], "1_!_101_!_news_culture_!_ _!_", "non-empty text"),
    ],
)
def test_toutiao_malformed_line_names_file_and_line(tmp_path, first, bad_line, message):
    path = write(tmp_path / "data.txt", "\n".join([first, first, bad_line, first]) + "\n")
    with pytest.raises(ValueError) as err:
        load_toutiao(path)
    assert str(path) in str(err.value)
    assert "line 3:" in str(err.value)
    assert message in str(err.value)


# ----------------------------------------------------------------------------------------------- dispatch


def test_load_text_classification_dispatch(thucnews_dir, toutiao_dir, tmp_path):
    assert len(load_text_classification("thucnews", thucnews_dir)["test"]) == 10000
    assert len(load_text_classification("Toutiao", toutiao_dir)["train"]) == 34443
    with pytest.raises(ValueError, match="thucnews.*toutiao"):
        load_text_classification("imdb", tmp_path)


def test_prepare_classification_hub_style_splits():
    from datasets import ClassLabel, Dataset, Features, Value

    from lwkd_hf.text.data import prepare_classification

    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    train = Dataset.from_dict({"sentence": [f"s{i}" for i in range(40)], "label": [0, 1] * 20}, features=features)
    hidden = Dataset.from_dict({"sentence": ["t0", "t1"], "label": [-1, -1]}, features=features)
    extra = Dataset.from_dict({"other": [1]})  # a split the loader does not use, with other columns
    out = prepare_classification({"train": train, "test": hidden, "unsupervised": extra}, text_columns=["sentence"])
    assert sorted(out) == ["test", "train", "validation"] and out["test"].column_names == ["text"]
    assert out["train"].features["label"].names == ["neg", "pos"]
    assert len(out["train"]) + len(out["validation"]) == 40 and out["validation"]["label"].count(0) == 1
    broken = Dataset.from_dict({"sentence": ["v0", "v1"], "label": [1, -1]}, features=features)
    with pytest.raises(ValueError, match=r"split 'validation': data row 1 \(counted from 0\) has no label"):
        prepare_classification({"train": train, "validation": broken}, text_columns=["sentence"])
