#!/usr/bin/env python
"""Parameters and analytic FLOPs per instance of every model in the LW-KD text setting (paper Tables 4, 8, 9).

FLOPs count 2 per multiply-add of the convolutions, linear layers, LSTM gates and attention products, plus 1
per element summed by FastText's mean; embedding lookups, hashing, activations, pooling, normalisation and
softmax count as free. The paper's Table 8 "~20.6M" for TextCNN is its multiply-add count (20,593,920 with
ToutiaoNews's 15 labels); its FastText "~465.9K" is the two linear layers. Prints the markdown table of
docs/students.md:

    python benchmarks/costs.py
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from lwkd_hf import Discriminator, LeNet5
from lwkd_hf.text.models import STUDENTS, LWKDTextModel, build_small_bert, build_student

#: The paper's counts (Table 4 parameters; Table 8 FLOPs as multiply-adds) for the comparison column.
PAPER = {"textcnn": "~2.1M", "textrcnn": "~2.6M", "dpcnn": "~1.8M", "fasttext": "~152.0M", "lenet5": "~62K"}


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _bert_macs(config: BertConfig, seq_len: int) -> int:
    h, i, n = config.hidden_size, config.intermediate_size, seq_len
    per_layer = 4 * n * h * h + 2 * n * n * h + 2 * n * h * i
    return config.num_hidden_layers * per_layer + h * h + h * config.num_labels


def lenet_flops(model: LeNet5) -> int:
    """2 x multiply-adds of LeNet5 on one 28x28 image (Table 9's layer shapes)."""
    macs = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25 + 120 * 16 * 25 + 120 * 84 + 84 * model.num_classes
    return 2 * macs


def flops_per_instance(model: nn.Module, seq_len: int) -> int:
    """Analytic FLOPs to classify one sequence of ``seq_len`` tokens (convention in the module docstring)."""
    if isinstance(model, LWKDTextModel):
        return model.flops(seq_len)
    if isinstance(model, BertForSequenceClassification):
        return 2 * _bert_macs(model.config, seq_len)
    raise TypeError(f"no FLOP formula for {type(model).__name__}")


def teacher_rows(num_labels: int) -> list[tuple[str, int, int]]:
    """(name, parameters, FLOPs per instance) of LeNet5 (per image) and the discriminator (2 x its weights) at K."""
    lenet, disc = LeNet5(num_labels), Discriminator(num_labels)
    return [(f"LeNet5 (K={num_labels}, per image)", count_parameters(lenet), lenet_flops(lenet)),
            (f"discriminator (K={num_labels})", count_parameters(disc), 2 * count_parameters(disc))]


def text_model_rows(names, vocab_size: int, num_labels: int, seq_len: int, embedding_dim: int):
    """(name, parameters, FLOPs per instance) of each text model (a student name or ``bert``), built on the meta device."""
    rows = []
    with torch.device("meta"):
        for name in names:
            model = (build_small_bert(vocab_size, num_labels, pad_token_id=vocab_size - 1) if name == "bert" else
                     build_student(name, vocab_size=vocab_size, num_labels=num_labels, pad_token_id=vocab_size - 1,
                                   embedding_dim=embedding_dim))
            rows.append((name, count_parameters(model), flops_per_instance(model, seq_len)))
    return rows


def table(vocab_size: int, num_labels: int, seq_len: int, embedding_dim: int) -> str:
    """The markdown table: each student, the small BERT, LeNet5 and the discriminator, the paper's count beside."""
    rows = text_model_rows([*STUDENTS, "bert"], vocab_size, num_labels, seq_len, embedding_dim)
    rows += teacher_rows(num_labels)
    lines = ["| model | parameters | FLOPs per instance | paper's parameters |", "|---|---|---|---|"]
    for name, params, flops in rows:
        paper = PAPER.get(name, PAPER["lenet5"] if name.startswith("LeNet5") else "–")
        lines.append(f"| {'small BERT' if name == 'bert' else name} | {params:,} | {flops:,} | {paper} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab-size", type=int, default=4762, help="THUCNews's character vocabulary")
    parser.add_argument("--num-labels", type=int, default=10)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=300, help="the paper's 300 (Tencent vectors: 200)")
    args = parser.parse_args()
    print(table(args.vocab_size, args.num_labels, args.seq_len, args.embedding_dim))


if __name__ == "__main__":
    main()
