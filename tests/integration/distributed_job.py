"""Trains the tiny test model with LWKDTrainer; run once plainly and once under `accelerate launch`.

Usage, from the repository root: python -m tests.integration.distributed_job OUTPUT_DIR PER_DEVICE_BATCH
(under accelerate: python -m accelerate.commands.launch ... -m tests.integration.distributed_job OUTPUT_DIR N).
Each rank writes rank{i}.safetensors (student + discriminator weights); the main process also writes
result.json (log history and final eval metrics).
"""

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from lwkd_hf.metrics import compute_metrics
from lwkd_hf.trainer import LWKDTrainer
from tests.conftest import build_args, build_tiny_bert, build_toy_dataset


def main(output_dir: str, per_device_batch: int) -> None:
    args = build_args(
        output_dir, per_device_train_batch_size=per_device_batch, per_device_eval_batch_size=8, max_steps=6,
        logging_steps=2, optim="sgd", learning_rate=0.5, lr_scheduler_type="constant", max_grad_norm=0.0,
        save_strategy="steps", save_steps=6,
    )
    trainer = LWKDTrainer(
        model=build_tiny_bert(), args=args, train_dataset=build_toy_dataset(96),
        eval_dataset=build_toy_dataset(32, seed=1, with_teacher=False), compute_metrics=compute_metrics,
    )
    trainer.train()
    metrics = trainer.evaluate()
    tensors = {f"student.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors.update({f"discriminator.{k}": v for k, v in trainer.discriminator.state_dict().items()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(Path(output_dir) / f"rank{args.process_index}.safetensors"))
    if trainer.is_world_process_zero():
        result = {"log_history": trainer.state.log_history, "eval": metrics, "world_size": args.world_size}
        (Path(output_dir) / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
