#!/usr/bin/env python
"""The README's quickstart, runnable: a lightweight teacher, its soft targets, and ``LWKDTrainer`` in place of
``Trainer``, on a tiny BERT and a few hundred THUCNews headlines (under a minute on 2 CPU cores).

    python examples/quickstart.py --data-dir ../shared/data
"""

import argparse
import tempfile
from pathlib import Path

from transformers import BertConfig, BertForSequenceClassification

from lwkd_hf import LWKDConfig, LWKDTrainer, add_teacher_logits, compute_metrics, train_teacher
from lwkd_hf.text.data import load_thucnews
from lwkd_hf.text.tokenization import ChineseTextTokenizer, tokenize_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="with thucnews/ and mnist/")
    parser.add_argument("--rows", type=int, default=2000, help="training headlines")
    args = parser.parse_args()

    data = load_thucnews(args.data_dir / "thucnews")
    data["train"] = data["train"].shuffle(seed=0).select(range(args.rows))
    data["validation"] = data["validation"].shuffle(seed=0).select(range(200))
    tokenizer = ChineseTextTokenizer.from_texts(data["train"]["text"], max_length=32)

    teacher = train_teacher(num_classes=10, per_class=500, epochs=3, mnist=args.data_dir / "mnist", progress=False)
    data["train"] = add_teacher_logits(data["train"], teacher)  # + the shifted teacher_logits column
    encoded = tokenize_dataset(data, tokenizer, max_length=32)

    model = BertForSequenceClassification(BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=64, num_labels=10, pad_token_id=tokenizer.pad_token_id))
    with tempfile.TemporaryDirectory() as out:
        args_ = LWKDConfig(output_dir=out, alpha=0.5, beta=0.1, temperature=6.0, num_train_epochs=3,
                           per_device_train_batch_size=32, learning_rate=1e-3, logging_steps=20, report_to=[],
                           save_strategy="no",
                           disable_tqdm=True, use_cpu=True)
        trainer = LWKDTrainer(model=model, args=args_, train_dataset=encoded["train"],
                              eval_dataset=encoded["validation"], processing_class=tokenizer,
                              compute_metrics=compute_metrics)
        trainer.train()
        metrics = trainer.evaluate()
    last = [log for log in trainer.state.log_history if "ce" in log][-1]  # LW-KD's terms, logged every logging_steps
    terms = {k: last[k] for k in ("ce", "kl", "adv")}
    print(f"teacher accuracy {teacher.config.test_accuracy:.4f}; logged terms {terms}; "
          f"dev accuracy {metrics['eval_accuracy']:.4f}, ECE {metrics['eval_ece']:.4f}, NLL {metrics['eval_loss']:.4f}")


if __name__ == "__main__":
    main()
