"""The text students (TextCNN, TextRCNN, DPCNN, FastText) and the small BERT: shapes, losses, Auto round trips."""

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification, BertForSequenceClassification

from lwkd_hf.text.models import (
    DPCNN,
    STUDENTS,
    FastText,
    TextCNN,
    TextRCNN,
    build_small_bert,
    build_student,
    ngram_bucket_ids,
)

#: Small sizes so that each test runs in well under a second.
SMALL = {
    "textcnn": dict(embedding_dim=16, num_filters=8),
    "textrcnn": dict(embedding_dim=16, hidden_size=8),
    "dpcnn": dict(embedding_dim=16, num_filters=8),
    "fasttext": dict(embedding_dim=16, hidden_size=8, ngram_buckets=101),
}


def small_student(name, vocab_size=50, num_labels=5, pad=49):
    torch.manual_seed(0)
    return build_student(name, vocab_size=vocab_size, num_labels=num_labels, pad_token_id=pad, **SMALL[name])


def batch(vocab_size=50, pad=49, length=32, size=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, pad, (size, length), generator=g)
    mask = torch.ones_like(ids)
    for row, n in enumerate([length, 20, 7, 3][:size]):
        ids[row, n:] = pad
        mask[row, n:] = 0
    return ids, mask


@pytest.mark.parametrize("name", list(STUDENTS))
def test_forward_backward_and_loss(name):
    model = small_student(name)
    assert model.accepts_loss_kwargs is False
    ids, mask = batch()
    labels = torch.tensor([0, 1, 2, 4])
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (4, 5)
    assert torch.allclose(out.loss, F.cross_entropy(out.logits, labels))
    out.loss.backward()
    head = model.classifier if isinstance(model.classifier, torch.nn.Linear) else model.classifier[-1]
    for param in (model.embedding.weight, head.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0
    assert model.embedding.weight.grad[49].abs().sum() == 0  # PAD is the fixed zero vector
    assert model.embedding.weight[49].abs().sum() == 0
    assert model(ids).loss is None


@pytest.mark.parametrize("name", list(STUDENTS))
def test_short_inputs(name):
    model = small_student(name).eval()
    for length in (1, 2, 3, 5):
        assert model(torch.randint(0, 49, (2, length))).logits.shape == (2, 5)


@pytest.mark.parametrize("name", list(STUDENTS))
def test_save_and_auto_load_give_identical_logits(name, tmp_path):
    model = small_student(name).eval()
    model.save_pretrained(tmp_path)
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.model_type == f"lwkd-{name}"
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    saved, original = loaded.config.to_dict(), model.config.to_dict()
    assert {k: v for k, v in saved.items() if k != "_name_or_path"} == {k: v for k, v in original.items() if k != "_name_or_path"}
    ids, mask = batch()
    with torch.no_grad():
        assert torch.equal(model(ids, mask).logits, loaded(ids, mask).logits)


def test_small_bert_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_small_bert(50, 5, pad_token_id=49, num_hidden_layers=1).eval()
    assert model.config.num_hidden_layers == 1
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is BertForSequenceClassification
    ids, mask = batch()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids, attention_mask=mask).logits, loaded(input_ids=ids, attention_mask=mask).logits)


def test_model_classes_and_configs():
    model = small_student("textcnn")
    assert isinstance(model, TextCNN) and model.config.filter_sizes == (2, 3, 4)
    assert isinstance(small_student("textrcnn"), TextRCNN)
    assert isinstance(small_student("dpcnn"), DPCNN)
    assert isinstance(small_student("fasttext"), FastText)
    assert model.config.num_labels == 5 and model.config.dropout == 0.5
    rcnn2 = build_student("textrcnn", vocab_size=50, num_labels=5, pad_token_id=49, embedding_dim=8, hidden_size=4, num_layers=2)
    assert rcnn2.lstm.num_layers == 2 and rcnn2.lstm.dropout == 0.5
    with pytest.raises(ValueError, match="dpcnn.*fasttext.*textcnn.*textrcnn"):
        build_student("lstm", vocab_size=50, num_labels=5, pad_token_id=49)


def test_pretrained_embedding_vectors():
    vectors = torch.randn(50, 12)
    model = build_student("textcnn", vocab_size=50, num_labels=3, pad_token_id=49, embeddings=vectors, num_filters=4)
    assert model.config.embedding_dim == 12
    assert torch.equal(model.embedding.weight[:49], vectors[:49])
    assert model.embedding.weight[49].abs().sum() == 0
    with pytest.raises(ValueError, match="shape"):
        model.load_embedding_vectors(torch.zeros(50, 11))


def test_ngram_hash_is_deterministic_and_exact():
    ids = torch.tensor([[5, 7, 11, 3]])
    bigram, trigram = ngram_bucket_ids(ids, buckets=1000, pad_token_id=9)
    prev1, prev2 = [9, 5, 7, 11], [9, 9, 5, 7]
    assert bigram.tolist() == [[(p * 14918087 + c) % 1000 for p, c in zip(prev1, [5, 7, 11, 3])]]
    assert trigram.tolist() == [
        [(((q * 14918087 + p) % 1000) * 18408749 + c) % 1000 for q, p, c in zip(prev2, prev1, [5, 7, 11, 3])]
    ]
    assert bigram.tolist() == [[788, 442, 620, 960]]
    # dtype does not matter, and large ids do not overflow
    b32, t32 = ngram_bucket_ids(ids.int(), buckets=1000, pad_token_id=9)
    assert torch.equal(b32, bigram) and torch.equal(t32, trigram)
    big = torch.full((1, 3), 10**9)
    assert (ngram_bucket_ids(big, 250_499, 0)[1] >= 0).all()


def test_fasttext_averages_real_tokens_only():
    model = small_student("fasttext").eval()
    ids = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 49, 49]])
    with torch.no_grad():
        a = model(ids).logits
        b = model(padded).logits
        c = model(padded, attention_mask=torch.tensor([[1, 1, 1, 0, 0]])).logits
    assert torch.allclose(a, b) and torch.equal(b, c)


def test_plain_trainer_step(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from lwkd_hf.text.tokenization import ChineseTextTokenizer, tokenize_dataset

    texts = ["今天天气好", "天气不错", "股市大涨", "股票下跌"] * 8
    tok = ChineseTextTokenizer.from_texts(texts, max_length=8)
    data = tokenize_dataset(Dataset.from_dict({"text": texts, "label": [0, 0, 1, 1] * 8}), tok)
    model = small_student("textcnn", vocab_size=len(tok), num_labels=2, pad=tok.pad_token_id)
    args = TrainingArguments(
        str(tmp_path), per_device_train_batch_size=16, max_steps=2, report_to=[], save_strategy="no", use_cpu=True
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=data, processing_class=tok)
    assert trainer.model_accepts_loss_kwargs is False
    assert trainer.train().global_step == 2
    assert set(trainer.evaluate()) >= {"eval_loss"}
