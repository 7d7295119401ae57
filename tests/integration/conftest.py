"""Fixtures of the end-to-end tests: THUCNews headlines as a user's own labelled files, and a tiny checkpoint."""

import pytest

TOPICS = {0: "finance", 1: "realty", 2: "stocks"}


def headlines(thucnews_dir, n_per_class, offset=0):
    """``n_per_class`` THUCNews training headlines of classes 0-2 (rows from ``offset``), labelled by topic name."""
    rows, seen = [], {c: 0 for c in TOPICS}
    for line in (thucnews_dir / "train_first45000.txt").read_text(encoding="utf-8").splitlines():
        text, label = line.rsplit("\t", 1)
        label = int(label)
        if label in TOPICS:
            seen[label] += 1
            if offset < seen[label] <= offset + n_per_class:
                rows.append({"title": text, "topic": TOPICS[label]})
    return rows


@pytest.fixture(scope="session")
def tiny_checkpoint(thucnews_dir, tmp_path_factory):
    """A tiny BERT saved with save_pretrained and a BertTokenizerFast built from a vocabulary file."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    chars = sorted({ch for row in headlines(thucnews_dir, 200) for ch in row["title"]})
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_csv(path, rows, columns):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: row[c] for c in columns} for row in rows)
