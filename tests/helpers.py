"""Small models, datasets and arguments shared by the trainer tests."""

import numpy as np
import torch
import datasets
from transformers import BertConfig, BertForSequenceClassification

from lwkd_hf.config import LWKDConfig

VOCAB = 40
SEQ = 6


def tiny_bert(num_labels: int = 4, seed: int = 0) -> BertForSequenceClassification:
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


def toy_dataset(n: int = 64, num_labels: int = 4, seed: int = 0, with_teacher: bool = True) -> datasets.Dataset:
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
        columns["teacher_logits"] = logits.tolist()
    return datasets.Dataset.from_dict(columns)


def make_args(output_dir, **overrides) -> LWKDConfig:
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
