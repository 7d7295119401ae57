"""Provenance of a run: the files it read (sha256), the machine it ran on, the teachers it learnt from and the code
that ran it, so that a reported number can be traced to exactly what made it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

import torch

CODE_DIFF_NAME = "code.diff"


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_sha256(tensors: dict) -> str:
    """sha256 over the tensors in name order (each name, dtype, shape and bytes): the same for the same weights
    however they were saved (safetensors' header order is not fixed, so a file's own hash is not)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def file_hashes(paths) -> dict[str, str]:
    """sha256 of each named file and of every file under each named folder, by resolved path, each file once; names
    that are not local paths (Hub ids) or are None are left out."""
    files = set()
    for path in (Path(name).resolve() for name in paths if name):
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.add(path)
    return {str(file): sha256_file(file) for file in sorted(files)}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where the run ran: OS, CPU model and count, GPUs and the CUDA version torch was built with."""
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {"platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpus": gpus,
            "cuda": torch.version.cuda}


def code_state(output_dir: Path, checkout: Path = Path(__file__).resolve().parents[1]) -> dict:
    """The commit of the checkout this package runs from (``checkout`` must be that repository's top folder, so an
    installed copy inside some other repository records nothing); where tracked files differ from it, ``git diff
    HEAD`` is written to ``output_dir/code.diff`` and its sha256 recorded, and a ``code.diff`` left by an earlier run
    in that folder is removed otherwise. Outside a checkout (an installed wheel): no commit."""

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=checkout, capture_output=True, check=True).stdout

    (output_dir / CODE_DIFF_NAME).unlink(missing_ok=True)
    try:
        top = Path(git("rev-parse", "--show-toplevel").decode().strip()).resolve()
        commit = git("rev-parse", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--binary")
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None}
    if top != checkout.resolve():
        return {"git_commit": None}
    if not diff:
        return {"git_commit": commit}
    (output_dir / CODE_DIFF_NAME).write_bytes(diff)
    return {"git_commit": f"{commit}-dirty",
            "code_diff": {"file": CODE_DIFF_NAME, "sha256": hashlib.sha256(diff).hexdigest()}}


def model_teacher_identity(folder: str | os.PathLike) -> dict:
    """A classifier used as a teacher (KD's, or w/o SYN's): its resolved folder, its weights' ``tensors_sha256`` per
    safetensors file, its architecture, and, where it is one of our runs, its test accuracy and the code it ran on.
    A name that is no local folder is a Hub id, recorded as such."""
    from safetensors.torch import load_file

    if not Path(folder).is_dir():
        return {"hub_id": str(folder)}
    folder = Path(folder).resolve()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    identity = {"path": str(folder),
                "weights_sha256": {p.name: tensors_sha256(load_file(p)) for p in sorted(folder.glob("*.safetensors"))},
                "model_type": config.get("model_type"), "architectures": config.get("architectures")}
    results, run_config = folder / "all_results.json", folder / "run_config.json"
    if results.is_file():
        identity["test_accuracy"] = json.loads(results.read_text(encoding="utf-8")).get("test_accuracy")
    if run_config.is_file():
        identity["git_commit"] = json.loads(run_config.read_text(encoding="utf-8")).get("git_commit")
    return identity
