"""ChineseTextTokenizer: vocabularies, char and word levels, AutoTokenizer round trips, datasets, embeddings."""

import json

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer

import lwkd_hf.text  # noqa: F401  (registers the tokenizer with AutoTokenizer)
from lwkd_hf.text.tokenization import (
    ChineseTextTokenizer,
    build_vocab,
    load_pretrained_embeddings,
    split_text,
    tokenize_dataset,
)

TEXTS = ["今天天气好", "天气不错", "好"]  # 天 x3, 好 x2, 气 x2, 不/今/错 x1


def test_build_vocab_char_exact_ids():
    assert build_vocab(TEXTS, level="char") == {
        "天": 0, "好": 1, "气": 2, "不": 3, "今": 4, "错": 5, "<UNK>": 6, "<PAD>": 7,
    }


def test_build_vocab_min_freq_and_max_size():
    assert build_vocab(TEXTS, level="char", min_freq=2) == {"天": 0, "好": 1, "气": 2, "<UNK>": 3, "<PAD>": 4}
    assert build_vocab(TEXTS, level="char", max_size=2) == {"天": 0, "好": 1, "<UNK>": 2, "<PAD>": 3}
    assert build_vocab(TEXTS, level="char", max_size=0) == {"<UNK>": 0, "<PAD>": 1}
    assert build_vocab(["<PAD>"], level="word") == {"<": 0, ">": 1, "PAD": 2, "<UNK>": 3, "<PAD>": 4}
    with pytest.raises(ValueError):
        build_vocab(TEXTS, level="char", min_freq=0)
    with pytest.raises(ValueError):
        build_vocab(TEXTS, level="bpe")


def test_build_vocab_word_level_uses_jieba():
    assert split_text("我爱北京天安门", "word") == ["我", "爱", "北京", "天安门"]
    assert build_vocab(["我爱北京天安门", "北京欢迎你"], level="word") == {
        "北京": 0, "你": 1, "天安门": 2, "我": 3, "欢迎": 4, "爱": 5, "<UNK>": 6, "<PAD>": 7,
    }


def test_char_tokenizer_ids_unknown_padding_truncation():
    tok = ChineseTextTokenizer.from_texts(TEXTS, level="char", max_length=6)
    assert (len(tok), tok.vocab_size, tok.pad_token_id, tok.unk_token_id) == (8, 8, 7, 6)
    enc = tok("今天下雨", padding="max_length", truncation=True)
    assert enc["input_ids"] == [4, 0, 6, 6, 7, 7]
    assert enc["attention_mask"] == [1, 1, 1, 1, 0, 0]
    assert "token_type_ids" not in enc
    enc = tok(["今天", "天气好不好呀啊"], padding="max_length", truncation=True, return_tensors="pt")
    assert enc["input_ids"].tolist() == [[4, 0, 7, 7, 7, 7], [0, 2, 1, 3, 1, 6]]
    assert enc["attention_mask"].tolist() == [[1, 1, 0, 0, 0, 0], [1] * 6]
    assert tok("今天")["input_ids"] == [4, 0]  # no special tokens added
    assert tok.convert_ids_to_tokens([0, 6, 99]) == ["天", "<UNK>", "<UNK>"]
    assert tok.decode([4, 0, 1]) == "今天好"


def test_word_tokenizer():
    tok = ChineseTextTokenizer.from_texts(["我爱北京天安门", "北京欢迎你"], level="word", max_length=5)
    enc = tok("我爱上海天安门", padding="max_length", truncation=True)
    assert tok.tokenize("我爱上海天安门") == ["我", "爱", "上海", "天安门"]
    assert enc["input_ids"] == [3, 5, 6, 2, 7]


@pytest.mark.parametrize("level", ["char", "word"])
def test_save_pretrained_auto_tokenizer_round_trip(tmp_path, level, thucnews_dir):
    headlines = [line.split("\t")[0] for line in (thucnews_dir / "dev.txt").read_text(encoding="utf-8").splitlines()[:300]]
    tok = ChineseTextTokenizer.from_texts(headlines[:200], level=level, min_freq=2, max_length=24)
    tok.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8")) == tok.get_vocab()
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is ChineseTextTokenizer
    assert (loaded.level, loaded.model_max_length, loaded.pad_token, loaded.unk_token) == (level, 24, "<PAD>", "<UNK>")
    a = tok(headlines, padding="max_length", truncation=True)
    b = loaded(headlines, padding="max_length", truncation=True)
    assert a["input_ids"] == b["input_ids"] and a["attention_mask"] == b["attention_mask"]
    assert all(len(ids) == 24 for ids in b["input_ids"])
    assert any(tok.unk_token_id in ids for ids in b["input_ids"][200:])


def test_auto_tokenizer_beside_a_student_and_a_bert(tmp_path):
    from lwkd_hf.text.models import build_small_bert, build_student

    tok = ChineseTextTokenizer.from_texts(TEXTS, max_length=8)
    for sub, model in {
        "student": build_student("dpcnn", vocab_size=len(tok), num_labels=2, pad_token_id=tok.pad_token_id, num_filters=4),
        "bert": build_small_bert(len(tok), 2, pad_token_id=tok.pad_token_id),
    }.items():
        model.save_pretrained(tmp_path / sub)
        tok.save_pretrained(tmp_path / sub)
        loaded = AutoTokenizer.from_pretrained(tmp_path / sub)
        assert type(loaded) is ChineseTextTokenizer
        assert loaded("今天")["input_ids"] == [4, 0]


def test_thucnews_vocab_file(thucnews_dir, tmp_path):
    tok = ChineseTextTokenizer.from_vocab_file(thucnews_dir / "vocab.json")
    assert (len(tok), tok.unk_token_id, tok.pad_token_id, tok.model_max_length) == (4762, 4760, 4761, 32)
    enc = tok("中华女子学院：本科层次仅1专业招男生", padding="max_length", truncation=True)
    assert enc["input_ids"][:18] == [14, 125, 55, 45, 35, 307, 4, 81, 161, 941, 258, 494, 2, 175, 48, 145, 97, 17]
    assert enc["input_ids"][18:] == [4761] * 14
    assert tok("\U0001f600")["input_ids"] == [4760]
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path).get_vocab() == tok.get_vocab()


def test_bad_vocab_files(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 2}), encoding="utf-8")
    with pytest.raises(ValueError, match="0..n-1"):
        ChineseTextTokenizer.from_vocab_file(tmp_path / "vocab.json")
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "<UNK>": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="<PAD>"):
        ChineseTextTokenizer.from_vocab_file(tmp_path / "vocab.json")
    with pytest.raises(ValueError, match="level"):
        ChineseTextTokenizer(vocab={"<UNK>": 0, "<PAD>": 1}, level="byte")


def test_tokenize_dataset_dict(thucnews_dir):
    from lwkd_hf.text.data import load_thucnews

    ds = load_thucnews(thucnews_dir)
    tok = ChineseTextTokenizer.from_vocab_file(thucnews_dir / "vocab.json")
    small = DatasetDict({"validation": ds["validation"], "test": Dataset.from_dict({"text": ["中华"], "label": [3]})})
    out = tokenize_dataset(small, tok)
    assert out["validation"].column_names == ["label", "input_ids", "attention_mask"]
    assert len(out["validation"]) == 10000
    assert out["validation"].features["label"].names == ds["validation"].features["label"].names
    assert out["test"][0] == {"label": 3, "input_ids": [14, 125] + [4761] * 30, "attention_mask": [1, 1] + [0] * 30}
    assert {len(ids) for ids in out["validation"]["input_ids"]} == {32}


def test_load_pretrained_embeddings(tmp_path):
    source_vocab = {"甲": 0, "乙": 1, "<UNK>": 2, "<PAD>": 3}
    (tmp_path / "vocab.json").write_text(json.dumps(source_vocab, ensure_ascii=False), encoding="utf-8")
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.savez(tmp_path / "emb.npz", embeddings=matrix)
    vocab = {"乙": 0, "丙": 1, "<UNK>": 2, "<PAD>": 3, "甲": 4}
    out = load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "emb.npz")
    assert out.dtype == torch.float32 and out.shape == (5, 3)
    assert out[0].tolist() == [3.0, 4.0, 5.0]
    assert out[4].tolist() == [0.0, 1.0, 2.0]
    assert out[2].tolist() == [6.0, 7.0, 8.0]
    assert out[3].tolist() == [9.0, 10.0, 11.0]
    again = load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "emb.npz")
    other = load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "emb.npz", seed=1)
    assert torch.equal(out, again) and not torch.equal(out[1], other[1])
    assert 0 < out[1].abs().max() < 4 * float(matrix.std())
    with pytest.raises(KeyError, match="vectors"):
        load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "emb.npz", key="vectors")
    np.savez(tmp_path / "short.npz", embeddings=matrix[:3])
    with pytest.raises(ValueError, match="shape"):
        load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "short.npz")
    np.savez(tmp_path / "objects.npz", embeddings=np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(ValueError):
        load_pretrained_embeddings(vocab, tmp_path / "vocab.json", tmp_path / "objects.npz")


def test_thucnews_tencent_embeddings(thucnews_dir):
    tok = ChineseTextTokenizer.from_vocab_file(thucnews_dir / "vocab.json")
    out = load_pretrained_embeddings(tok.get_vocab(), thucnews_dir / "vocab.json", thucnews_dir / "embedding_Tencent.npz")
    raw = np.load(thucnews_dir / "embedding_Tencent.npz", allow_pickle=False)["embeddings"]
    assert out.shape == (4762, 200)
    assert torch.equal(out, torch.from_numpy(raw.astype(np.float32)))
