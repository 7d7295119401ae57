"""Each baseline's soft-target column on hand-made inputs."""

import datasets
import numpy as np
import pytest
import torch

from lwkd_hf.baselines import (
    add_model_logits,
    add_virtual_teacher_logits,
    shuffle_except_max,
    shuffle_teacher_logits,
    tfkd_legacy_logits,
    tfkd_logits,
    virtual_teacher_probs,
)
from lwkd_hf.columns import TEACHER_LOGITS_COLUMN
from lwkd_hf.losses import cross_entropy_loss, softened_probs


def test_tfkd_distribution_sums_to_one_with_a_on_the_true_class():
    probs = virtual_teacher_probs(np.array([2, 0]), 4, 0.9)
    np.testing.assert_allclose(probs.sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(probs, [[0.1 / 3, 0.1 / 3, 0.9, 0.1 / 3], [0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3]])
    # the column is log p: softmax(column / tau) is p^(1/tau), renormalised
    column = torch.tensor(tfkd_logits(np.array([2, 0]), 4, 0.9))
    np.testing.assert_allclose(softened_probs(column, 1.0).numpy(), probs, rtol=1e-6)
    tau = 4.0
    soft = probs ** (1 / tau) / (probs ** (1 / tau)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softened_probs(column, tau).numpy(), soft, rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        virtual_teacher_probs(np.array([0]), 4, 1.0)


def test_tfkd_legacy_uses_probabilities_as_logits():
    column = tfkd_legacy_logits(np.array([1]), 3, 0.99)
    np.testing.assert_allclose(column, [[0.005, 0.99, 0.005]], rtol=1e-6)
    # official code: softmax(p / T); at T=20 the target is nearly uniform
    expected = np.exp(column / 20) / np.exp(column / 20).sum()
    np.testing.assert_allclose(softened_probs(torch.tensor(column), 20.0).numpy(), expected, rtol=1e-6)
    assert expected.max() - expected.min() < 0.02


def test_lsr_is_cross_entropy_with_uniform_smoothing():
    logits = torch.tensor([[1.0, 2.0, 0.5, -1.0]])
    eps, k = 0.2, 4
    target = np.full(k, eps / k)
    target[1] += 1 - eps
    logp = torch.log_softmax(logits, -1).numpy()[0]
    assert cross_entropy_loss(logits, torch.tensor([1]), eps).item() == pytest.approx(-(target * logp).sum(), rel=1e-6)


def test_kd_shuffle_keeps_maximum_and_multiset():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10)).astype(np.float32)
    shuffled = shuffle_except_max(logits, np.random.default_rng(1))
    rows = np.arange(200)
    keep = logits.argmax(axis=1)
    np.testing.assert_array_equal(shuffled[rows, keep], logits[rows, keep])
    np.testing.assert_array_equal(np.sort(shuffled, axis=1), np.sort(logits, axis=1))
    moved = (shuffled != logits).any(axis=1).mean()
    assert moved > 0.99  # with 9 free entries, almost every row changes


def test_column_fillers_on_datasets():
    data = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 2, 1]})
    tfkd = add_virtual_teacher_logits(data, 3)
    np.testing.assert_allclose(np.exp(np.asarray(tfkd[TEACHER_LOGITS_COLUMN])).sum(axis=1), 1.0, rtol=1e-6)
    legacy = add_virtual_teacher_logits(data, 3, legacy=True)
    np.testing.assert_allclose(np.asarray(legacy[TEACHER_LOGITS_COLUMN])[1], [0.005, 0.005, 0.99], rtol=1e-6)
    shuffled = shuffle_teacher_logits(tfkd, seed=0)
    np.testing.assert_array_equal(np.asarray(shuffled[TEACHER_LOGITS_COLUMN]).argmax(1), [0, 2, 1])
    with pytest.raises(ValueError, match="label 2 at row 1 is outside 0..1"):
        add_virtual_teacher_logits(data, 2)


class FixedModel(torch.nn.Module):
    """Logits = a fixed table looked up by the first token id."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(table))
        self.config = type("Config", (), {"num_labels": len(table[0])})()

    def forward(self, input_ids, attention_mask=None):
        return type("Out", (), {"logits": self.table[input_ids[:, 0]]})()


class CharTokenizer:
    model_input_names = ["input_ids", "attention_mask"]

    def __call__(self, texts, **kwargs):
        ids = torch.tensor([[ord(t[0]) - ord("a")] for t in texts])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_kd_stores_the_teachers_logits_unchanged():
    table = [[0.5, -1.0, 3.0], [2.0, 2.5, -0.5], [-3.0, 1.0, 0.0]]
    data = datasets.Dataset.from_dict({"text": ["c", "a", "b", "a"], "label": [0, 1, 2, 0]})
    out = add_model_logits(data, FixedModel(table), CharTokenizer())
    np.testing.assert_array_equal(np.asarray(out[TEACHER_LOGITS_COLUMN], dtype=np.float32),
                                  np.asarray([table[2], table[0], table[1], table[0]], dtype=np.float32))
