"""Provenance: file hashes, the machine, the code state with its diff, a model teacher's identity."""

import hashlib
import json
import os
import struct
import subprocess

import torch
from safetensors.torch import save_file

from lwkd_hf.provenance import code_state, file_hashes, machine, model_teacher_identity, tensors_sha256

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2's example


def test_files_and_every_file_under_a_folder_are_hashed_hub_ids_and_none_left_out(tmp_path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "train.txt").write_bytes(b"abc")
    (tmp_path / "data" / "sub" / "vectors.npz").write_bytes(b"")
    (tmp_path / "vocab.json").write_bytes(b"abc")
    hashes = file_hashes([str(tmp_path / "data"), tmp_path / "vocab.json", None, "user/some-hub-dataset",
                          tmp_path / "data" / "train.txt"])  # named twice, hashed once
    assert hashes == {str(tmp_path / "data" / "sub" / "vectors.npz"): hashlib.sha256(b"").hexdigest(),
                      str(tmp_path / "data" / "train.txt"): ABC_SHA256, str(tmp_path / "vocab.json"): ABC_SHA256}


def test_machine_names_the_cpu():
    found = machine()
    assert found["cpu"] and found["cpu_count"] == os.cpu_count() and isinstance(found["gpus"], list)


def test_a_dirty_checkout_stores_its_diff_beside_the_record(tmp_path):
    repo, out = tmp_path / "repo", tmp_path / "out"
    repo.mkdir(), out.mkdir()

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (repo / "losses.py").write_text("alpha = 0.5\n")
    git("add", "losses.py")
    git("commit", "-q", "-m", "first")
    commit = git("rev-parse", "HEAD")
    assert code_state(out, repo) == {"git_commit": commit} and not (out / "code.diff").exists()
    (repo / "losses.py").write_text("alpha = 0.1\n")
    state = code_state(out, repo)
    diff = (out / "code.diff").read_text()
    assert "-alpha = 0.5\n+alpha = 0.1\n" in diff
    assert state == {"git_commit": f"{commit}-dirty",
                     "code_diff": {"file": "code.diff", "sha256": hashlib.sha256(diff.encode()).hexdigest()}}
    (repo / "losses.py").write_text("alpha = 0.5\n")
    assert code_state(out, repo) == {"git_commit": commit} and not (out / "code.diff").exists()  # none left behind
    assert code_state(out, tmp_path) == {"git_commit": None}  # not a checkout
    (repo / "site-packages").mkdir()  # a copy installed inside some other repository records no commit of it
    assert code_state(out, repo / "site-packages") == {"git_commit": None}


WEIGHTS = {"w": torch.tensor([1.0, -2.0]), "b": torch.tensor([3], dtype=torch.int64)}
WEIGHTS_SHA256 = hashlib.sha256(b"b|torch.int64|(1,)|" + struct.pack("<q", 3)
                                + b"w|torch.float32|(2,)|" + struct.pack("<2f", 1.0, -2.0)).hexdigest()


def test_tensors_are_hashed_by_name_dtype_shape_and_bytes_in_name_order():
    assert tensors_sha256(WEIGHTS) == WEIGHTS_SHA256
    assert tensors_sha256({"b": WEIGHTS["b"], "w": WEIGHTS["w"]}) == WEIGHTS_SHA256
    assert tensors_sha256({"w": WEIGHTS["w"].double(), "b": WEIGHTS["b"]}) != WEIGHTS_SHA256


def test_a_model_teacher_is_identified_by_its_weights_and_record(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "textrcnn", "architectures": ["TextRCNN"]}))
    save_file(WEIGHTS, tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "all_results.json").write_text(json.dumps({"test_accuracy": 0.875}))
    assert model_teacher_identity(tmp_path) == {
        "path": str(tmp_path.resolve()), "weights_sha256": {"model.safetensors": WEIGHTS_SHA256},
        "model_type": "textrcnn", "architectures": ["TextRCNN"], "test_accuracy": 0.875}
    assert model_teacher_identity("someone/bert-teacher") == {"hub_id": "someone/bert-teacher"}
