"""Two CPU processes under `accelerate launch` (torchrun + gloo) train the same model as one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
JOB_MODULE = "tests.integration.distributed_job"


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """Two CPU processes (torchrun + gloo) on the same global batch give one process's model."""
    # the job runs as a module from the repository root, so `tests` and the installed lwkd_hf import as they are
    env = dict(os.environ, ACCELERATE_USE_CPU="true")
    job = ["-m", JOB_MODULE]
    subprocess.run([sys.executable, *job, str(tmp_path / "one"), "8"], check=True, env=env, cwd=REPO)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    subprocess.run(launch + [*job, str(tmp_path / "two"), "4"], check=True, env=env, cwd=REPO)

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
