"""The teacher cache: a hit is the teacher trained, a changed recipe misses, a bad entry is retrained, races end well."""

import json
import logging
import subprocess
import sys

import numpy as np
import torch

from lwkd_hf.teacher import Teacher
from lwkd_hf.teacher_cache import default_cache_dir, entry_dir, recipe_key
from lwkd_hf.teacher_training import train_teacher


def recipe_kwargs(mnist_dir, **overrides):
    kwargs = dict(mnist=mnist_dir, epochs=1, seed=5, test_per_class=10, progress=False, device="cpu", num_threads=1)
    kwargs.update(overrides)
    return kwargs


def entries(cache):
    return sorted(p.name for p in (cache / "teachers").iterdir())


def test_a_hit_returns_the_teacher_that_was_trained(mnist_dir, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    assert len(entries(cache)) == 1 and not list((cache / "teachers").glob(".*"))
    with caplog.at_level(logging.INFO, logger="lwkd_hf.teacher_cache"):
        second = train_teacher(3, 30, cache_dir=cache, output_dir=tmp_path / "copy", **recipe_kwargs(mnist_dir))
    assert "reusing teacher" in caplog.text and "test accuracy" in caplog.text
    assert second.config == first.config  # train_seconds too: nothing was trained again
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(second.logits(images), first.logits(images))
    assert Teacher.load(tmp_path / "copy").config == first.config  # output_dir still gets its copy


def test_a_changed_input_misses(mnist_dir, tmp_path):
    cache = tmp_path / "cache"
    base = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    other_seed = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir, seed=6))
    more_data = train_teacher(3, [30, 30, 31], cache_dir=cache, **recipe_kwargs(mnist_dir))
    longer = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir, epochs=2))
    assert len(entries(cache)) == 4
    keys = {recipe_key(t.config.to_dict()) for t in (base, other_seed, more_data, longer)}
    assert len(keys) == 4
    assert not torch.equal(base.model.fc2.weight, other_seed.model.fc2.weight)


def test_a_corrupt_or_mismatched_entry_is_retrained_with_a_warning(mnist_dir, tmp_path, caplog):
    cache = tmp_path / "cache"
    trained = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    entry = entry_dir(cache, trained.config.to_dict())
    (entry / "model.safetensors").write_bytes(b"not a safetensors file")
    with caplog.at_level(logging.WARNING, logger="lwkd_hf.teacher_cache"):
        again = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    assert "is unreadable" in caplog.text and "retraining it" in caplog.text
    assert Teacher.load(entry).config == again.config  # the entry was replaced by a good one
    for name, tensor in trained.model.state_dict().items():  # same recipe, same seed: the same teacher again
        assert torch.equal(tensor, again.model.state_dict()[name]), name

    config = json.loads((entry / "config.json").read_text())
    config["epochs"] = 7  # an entry whose recipe is not the key's
    (entry / "config.json").write_text(json.dumps(config))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lwkd_hf.teacher_cache"):
        train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    assert "does not match the request in ['epochs']" in caplog.text
    assert Teacher.load(entry).config.epochs == 1


def test_cache_off_and_default_location(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LWKD_CACHE_DIR", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    train_teacher(3, 30, cache_dir=None, **recipe_kwargs(mnist_dir))
    assert not (tmp_path / "env-cache").exists()
    train_teacher(3, 30, **recipe_kwargs(mnist_dir))  # default: on, at $LWKD_CACHE_DIR
    assert len(entries(tmp_path / "env-cache")) == 1


RACER = """
import sys
from lwkd_hf.teacher_training import train_teacher
t = train_teacher(3, 30, mnist=sys.argv[1], epochs=1, seed=5, test_per_class=10, progress=False, device="cpu",
                  num_threads=1, cache_dir=sys.argv[2])
print(t.config.test_accuracy)
"""


def test_two_processes_racing_on_one_key_leave_one_valid_entry(mnist_dir, tmp_path):
    cache = tmp_path / "cache"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(mnist_dir), str(cache)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in racers]
    assert all(r.returncode == 0 for r in racers), [err[-2000:] for _, err in outputs]
    assert len(entries(cache)) == 1 and not list((cache / "teachers").glob(".*"))
    (entry,) = (cache / "teachers").iterdir()
    accuracy = Teacher.load(entry).config.test_accuracy
    assert [float(out.strip()) for out, _ in outputs] == [accuracy, accuracy]


def test_store_keeps_a_valid_entry_another_process_published(mnist_dir, tmp_path):
    from lwkd_hf.teacher_cache import store

    cache = tmp_path / "cache"
    teacher = train_teacher(3, 30, cache_dir=cache, **recipe_kwargs(mnist_dir))
    entry = entry_dir(cache, teacher.config.to_dict())
    before = (entry / "model.safetensors").stat().st_ino
    assert store(cache, teacher) == entry  # as a process that lost the race would
    assert (entry / "model.safetensors").stat().st_ino == before  # the first entry was kept, not rewritten
    assert len(entries(cache)) == 1 and not list((cache / "teachers").glob(".*"))
