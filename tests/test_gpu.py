"""Mixed precision on CUDA (skipped without a GPU): every loss term stays finite, the discriminator stays fp32."""

import pytest
import torch

from lwkd_hf.trainer import LWKDTrainer

from .helpers import make_args, tiny_bert, toy_dataset

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("temperature", [1.0, 20.0])
def test_mixed_precision_on_cuda_keeps_terms_finite(tmp_path, precision, temperature):
    data = toy_dataset(64).map(lambda row: {"teacher_logits": [v * 1e4 for v in row["teacher_logits"]]})
    args = make_args(tmp_path, use_cpu=False, max_steps=6, temperature=temperature, **{precision: True})
    trainer = LWKDTrainer(model=tiny_bert(), args=args, train_dataset=data)
    trainer.train()
    assert trainer.args.device.type == "cuda"
    logs = [log for log in trainer.state.log_history if "loss" in log]
    assert len(logs) == 6
    for log in logs:
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert torch.isfinite(torch.tensor(log[key])), (precision, key, log)
    assert all(p.dtype == torch.float32 and p.is_cuda for p in trainer.discriminator.parameters())


def test_teacher_trains_on_cuda_to_the_cpu_teachers_accuracy(mnist_dir):
    from lwkd_hf import train_teacher

    kwargs = dict(mnist=mnist_dir, epochs=2, seed=0, test_per_class=300, progress=False, cache_dir=None)
    on_gpu = train_teacher(10, 1000, device="cuda", **kwargs)
    on_cpu = train_teacher(10, 1000, device="cpu", **kwargs)
    assert next(on_gpu.model.parameters()).is_cuda
    assert abs(on_gpu.config.test_accuracy - on_cpu.config.test_accuracy) <= 0.003 + 1e-9
