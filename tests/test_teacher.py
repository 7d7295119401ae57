"""LeNet5 (Table 9), TeacherConfig, and saving and loading a Teacher with every error named."""

import json
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from lwkd_hf.provenance import tensors_sha256
from lwkd_hf.teacher import LeNet5, Teacher, TeacherConfig


def lenet5_parameters(k):
    """Table 9 by hand: conv 5x5x6, conv 5x5x16, conv 5x5x120, FC 84, FC K (weights + biases)."""
    return (1 * 25 + 1) * 6 + (6 * 25 + 1) * 16 + (16 * 25 + 1) * 120 + (120 + 1) * 84 + (84 + 1) * k


def make_config(**overrides):
    values = dict(
        num_classes=10, per_class=[3] * 10, seed=0, epochs=1, learning_rate=0.05, batch_size=128, momentum=0.9,
        weight_decay=5e-4, lr_schedule="warmup-cosine", mnist_source="idx:/data/mnist", mnist_sha256="ab" * 32,
        test_accuracy=0.5, test_examples=100, train_seconds=1.5,
    )
    return TeacherConfig(**{**values, **overrides})


def random_teacher(k=10, seed=0):
    torch.manual_seed(seed)
    return Teacher(model=LeNet5(k), config=make_config(num_classes=k, per_class=[3] * k))


# --- model ----------------------------------------------------------------------------------


def test_parameter_count_matches_paper():
    assert lenet5_parameters(10) == 61706
    assert sum(p.numel() for p in LeNet5(10).parameters()) == 61706
    assert sum(p.numel() for p in LeNet5(15).parameters()) == lenet5_parameters(15) == 62131
    assert LeNet5(15).num_classes == 15


def test_forward_shapes_and_layouts():
    model = LeNet5(100).eval()
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert out.shape == (4, 100) and out.dtype == torch.float32
    assert torch.equal(model(x[:, 0]), out)


@pytest.mark.parametrize("shape", [(2, 32, 32), (2, 3, 28, 28), (2, 784)])
def test_forward_rejects_other_image_shapes(shape):
    with pytest.raises(ValueError, match=re.escape(f"(N, 1, 28, 28), got {shape}")):
        LeNet5(10)(torch.zeros(shape))


def test_uint8_input_equals_float_input():
    model = LeNet5(10).eval()
    x = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    assert torch.equal(model(x), model(x.float() / 255.0))
    assert torch.allclose(model(x.double() / 255.0), model(x), atol=1e-6)
    double = LeNet5(10).double().eval()
    assert torch.equal(double(x), double(x.double() / 255.0))


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("memory_format", [torch.channels_last, torch.contiguous_format])
def test_forward_is_table_9_with_relu_before_pooling(memory_format, dtype, atol):
    """Pooling first and conv3 as a matrix product are speed-ups only: the reference layers (ReLU, then 2x2
    max-pool; conv3 as a convolution) give the same logits and the same weight gradients, for weights in either
    memory layout, also where a blank background makes whole pooling windows tie."""
    torch.manual_seed(0)
    model = LeNet5(10).to(dtype=dtype, memory_format=memory_format)
    x = torch.zeros(8, 1, 28, 28, dtype=dtype)
    x[:, :, 8:20, 8:20] = torch.randint(0, 256, (8, 1, 12, 12)).to(dtype) / 255.0
    labels = torch.arange(8)

    def reference(x):
        h = (x - 0.1307) / 0.3081
        h = torch.nn.functional.max_pool2d(torch.relu(model.conv1(h)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(model.conv2(h)), 2)
        h = torch.relu(model.conv3(h)).flatten(1)
        return model.fc2(torch.relu(model.fc1(h)))

    grads = []
    for forward in (model, reference):
        model.zero_grad()
        out = forward(x)
        torch.nn.functional.cross_entropy(out, labels).backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (out, got), (expected_out, expected) = grads
    assert out.dtype == dtype
    assert torch.allclose(out, expected_out, atol=atol)
    assert all(torch.allclose(g, e, atol=atol) for g, e in zip(got, expected))
    assert model.conv2.weight.is_contiguous(memory_format=memory_format)


def test_normalisation_constants_are_not_saved():
    assert set(LeNet5(10).state_dict()) == {
        f"{layer}.{p}" for layer in ("conv1", "conv2", "conv3", "fc1", "fc2") for p in ("weight", "bias")
    }


# --- save / load ----------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    teacher = random_teacher(k=15)
    teacher.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "lwkd-lenet5"
    loaded = Teacher.load(tmp_path)
    assert loaded.config == teacher.config
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    logits = teacher.logits(images)
    assert logits.shape == (64, 15) and logits.dtype == np.float32
    assert np.array_equal(loaded.logits(images), logits)
    np.testing.assert_allclose(teacher.logits(images, batch_size=7), logits, rtol=1e-5, atol=1e-6)


def test_weights_hash_survives_saving_and_tells_weights_apart(tmp_path):
    teacher = random_teacher(k=10)
    teacher.save(tmp_path)
    assert Teacher.load(tmp_path).weights_sha256() == teacher.weights_sha256()
    assert tensors_sha256(load_file(tmp_path / "model.safetensors")) == teacher.weights_sha256()
    assert random_teacher(k=10, seed=1).weights_sha256() != teacher.weights_sha256()


def test_config_dict_round_trip():
    config = make_config(test_accuracy=None)
    assert TeacherConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["format_version"] == 1


def test_load_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "config.json"))):
        Teacher.load(tmp_path)


def test_load_other_model_type(tmp_path):
    random_teacher().save(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "model_type": "bert"}))
    with pytest.raises(ValueError, match=re.escape(f"{config}: expected model_type 'lwkd-lenet5', got 'bert'")):
        Teacher.load(tmp_path)


def test_load_config_with_unknown_field(tmp_path):
    random_teacher().save(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "hidden_size": 3}))
    with pytest.raises(ValueError, match=re.escape(f"{config}: config fields differ: missing [], unexpected ['hidden_size']")):
        Teacher.load(tmp_path)


def test_load_not_json(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "config.json"))):
        Teacher.load(tmp_path)


def test_load_wrong_shapes(tmp_path):
    random_teacher(k=10).save(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "num_classes": 15}))
    weights = tmp_path / "model.safetensors"
    with pytest.raises(ValueError, match=re.escape(f"{weights}: expected tensors")) as err:
        Teacher.load(tmp_path)
    assert "'fc2.weight': (15, 84)" in str(err.value) and "'fc2.weight': (10, 84)" in str(err.value)


def test_load_missing_tensor(tmp_path):
    random_teacher().save(tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    del state["conv3.bias"]
    save_file(state, str(weights))
    with pytest.raises(ValueError, match=re.escape(f"{weights}: expected tensors")):
        Teacher.load(tmp_path)


def test_load_weights_that_are_not_safetensors(tmp_path):
    random_teacher().save(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x80\x04pickle")
    with pytest.raises(ValueError, match=re.escape(f"{weights}: expected a safetensors file")):
        Teacher.load(tmp_path)


def test_load_missing_weights(tmp_path):
    random_teacher().save(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "model.safetensors"))):
        Teacher.load(tmp_path)
