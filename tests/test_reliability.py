"""Resume, several processes, mixed precision and atomic writes (the reliability guarantees)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lwkd_hf.atomic import atomic_write_json
from lwkd_hf.trainer import LWKDTrainer

from .helpers import make_args, tiny_bert, toy_dataset

REPO = Path(__file__).resolve().parents[1]


def run(tmp_path, name, resume=None, **overrides):
    settings = dict(max_steps=8, save_strategy="steps", save_steps=4, optim="adamw_torch", logging_steps=2)
    settings.update(overrides)
    trainer = LWKDTrainer(model=tiny_bert(), args=make_args(tmp_path / name, **settings), train_dataset=toy_dataset(96))
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def test_resume_gives_the_uninterrupted_run(tmp_path):
    full = run(tmp_path, "full")
    resumed = run(tmp_path, "resumed", resume=str(tmp_path / "full" / "checkpoint-4"))
    for name, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-6, atol=1e-7)
    for a, b in zip(full.discriminator.parameters(), resumed.discriminator.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)
    full_logs = [log for log in full.state.log_history if "loss" in log]
    resumed_logs = [log for log in resumed.state.log_history if "loss" in log]
    assert [log["step"] for log in resumed_logs] == [2, 4, 6, 8]  # the history continues from the checkpoint
    for a, b in zip(full_logs[2:], resumed_logs[2:]):
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), key


def test_bf16_on_cpu_keeps_every_term_finite_with_extreme_logits(tmp_path):
    data = toy_dataset(32)
    data = data.map(lambda row: {"teacher_logits": [v * 1e4 for v in row["teacher_logits"]]})
    trainer = LWKDTrainer(
        model=tiny_bert(), args=make_args(tmp_path, bf16=True, temperature=20.0, max_steps=4), train_dataset=data
    )
    trainer.train()
    logs = [log for log in trainer.state.log_history if "loss" in log]
    assert len(logs) == 4
    for log in logs:
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss"):
            assert torch.isfinite(torch.tensor(log[key])), (key, log)
    assert all(p.dtype == torch.float32 for p in trainer.discriminator.parameters())


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "config.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})  # not serialisable: fails before the rename
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["config.json"]  # no temporary file left behind


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """Two CPU processes (torchrun + gloo) on the same global batch give one process's model."""
    env = dict(os.environ, ACCELERATE_USE_CPU="true", PYTHONPATH=str(REPO))
    job = str(REPO / "tests" / "distributed_job.py")
    subprocess.run([sys.executable, job, str(tmp_path / "one"), "8"], check=True, env=env, cwd=REPO)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    subprocess.run(launch + [job, str(tmp_path / "two"), "4"], check=True, env=env, cwd=REPO)

    one = json.loads((tmp_path / "one" / "result.json").read_text())
    two = json.loads((tmp_path / "two" / "result.json").read_text())
    assert one["world_size"] == 1 and two["world_size"] == 2
    logs_one = [log for log in one["log_history"] if "loss" in log]
    logs_two = [log for log in two["log_history"] if "loss" in log]
    assert len(logs_one) == len(logs_two) == 3
    for a, b in zip(logs_one, logs_two):
        for key in ("loss", "ce", "kl", "adv", "discriminator_loss", "discriminator_acc_real"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key
    for key in ("eval_loss", "eval_accuracy"):
        assert two["eval"][key] == pytest.approx(one["eval"][key], rel=1e-4)

    single = load_file(tmp_path / "one" / "rank0.safetensors")
    rank0 = load_file(tmp_path / "two" / "rank0.safetensors")
    rank1 = load_file(tmp_path / "two" / "rank1.safetensors")
    for name, value in single.items():
        torch.testing.assert_close(rank0[name], value, rtol=1e-4, atol=1e-5)
        if name.startswith("discriminator."):  # synchronised: identical on both ranks
            torch.testing.assert_close(rank1[name], rank0[name], rtol=0, atol=0)
    # only the main process writes checkpoints and results
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "checkpoint-6", "rank0.safetensors", "rank1.safetensors", "result.json"
    ]


def test_atomic_dir_replaces_whole_folder_or_nothing(tmp_path):
    from lwkd_hf.atomic import atomic_dir

    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left
    assert target.stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
