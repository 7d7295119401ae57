"""train_teacher on real MNIST digits (sane, deterministic, recorded), default_per_class (Table 2), and on CUDA."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lwkd_hf.synthesis import load_mnist
from lwkd_hf.teacher import LeNet5, Teacher, TeacherConfig
from lwkd_hf.teacher_training import WARMUP_FRACTION, _fit, _lr_factor, default_per_class, train_teacher


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir, "train")


def test_short_training_is_sane_and_deterministic(mnist, tmp_path):
    # one thread: two intra-op threads run ~25x slower when other processes share the 2 cores
    kwargs = dict(mnist=mnist, epochs=2, batch_size=32, seed=3, progress=False, num_threads=1, cache_dir=None)
    threads = torch.get_num_threads()
    first = train_teacher(10, 200, output_dir=tmp_path, **kwargs)
    second = train_teacher(10, 200, **kwargs)
    assert torch.get_num_threads() == threads
    config = first.config
    assert config.test_examples == 10000  # K <= 10: all MNIST test digits
    assert config.test_accuracy > 0.9  # 0.9396 measured
    assert config.per_class == [200] * 10 and config.mnist_sha256 == mnist.sha256
    assert config.mnist_source == mnist.source and config.train_seconds > 0
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    assert second.config.test_accuracy == config.test_accuracy
    loaded = Teacher.load(tmp_path)
    assert loaded.config == config
    assert loaded.config.test_accuracy == pytest.approx(loaded.accuracy(*_mnist_test(mnist)))


@pytest.mark.parametrize("schedule", ["warmup-cosine", "constant"])
def test_fit_updates_exactly_as_torch_optim_sgd(schedule):
    """_fit calls SGD's update function directly; the weights must be those of the optimizer object's loop."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (150, 28, 28), dtype=torch.uint8, generator=generator)
    y = torch.randint(0, 10, (150,), generator=generator)
    config = TeacherConfig(num_classes=10, per_class=[15] * 10, seed=4, epochs=3, learning_rate=0.05, batch_size=64,
                           momentum=0.9, weight_decay=5e-4, lr_schedule=schedule, mnist_source="", mnist_sha256="",
                           test_accuracy=None, test_examples=0, train_seconds=0.0)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        fitted, reference = LeNet5(), LeNet5()
    reference.load_state_dict(fitted.state_dict())
    initial = {name: tensor.clone() for name, tensor in fitted.state_dict().items()}
    _fit(fitted, x, y, config, progress=False)

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, foreach=True)
    order_generator = torch.Generator().manual_seed(4)
    total = 3 * math.ceil(150 / 64)
    step = 0
    for _ in range(3):
        order = torch.randperm(150, generator=order_generator)
        for b in range(math.ceil(150 / 64)):
            idx = order[b * 64 : (b + 1) * 64]
            optimizer.param_groups[0]["lr"] = 0.05 * _lr_factor(schedule, step, total, math.ceil(WARMUP_FRACTION * total))
            loss = F.cross_entropy(reference(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    assert step == 9 and not torch.equal(fitted.fc2.weight, initial["fc2.weight"])
    for name, tensor in reference.state_dict().items():
        assert torch.equal(fitted.state_dict()[name], tensor), name


def _mnist_test(mnist):
    test = load_mnist(mnist.source, "test")
    return test.images, test.labels


def test_training_on_synmnist_records_its_test_set(mnist):
    teacher = train_teacher(15, list(range(20, 35)), mnist=mnist.source, epochs=1, progress=False, num_threads=1)
    config = teacher.config
    assert config.num_classes == 15 and config.per_class == list(range(20, 35))
    assert config.test_examples == 15 * round(np.mean(range(20, 35)) / 6)
    assert 0.0 <= config.test_accuracy <= 1.0
    assert teacher.model.fc2.out_features == 15


def test_training_rejects_test_digits_and_bad_schedule(mnist):
    with pytest.raises(ValueError, match="must hold the train split"):
        train_teacher(10, 5, mnist=load_mnist(mnist.source, "test"), epochs=1, progress=False)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        train_teacher(10, 5, mnist=mnist, lr_schedule="step", progress=False)


def test_default_per_class_is_table_2():
    labels = np.repeat(np.arange(10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert default_per_class(10, labels) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert default_per_class(4, labels) == [5923, 6742, 5958, 6131]
    assert default_per_class(15, labels) == [5000] * 15 and default_per_class(100, labels) == [600] * 100
    assert default_per_class(101, labels) == [1000] * 101 and default_per_class(40, labels) == [1500] * 40


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_teacher_trains_on_cuda_to_the_cpu_teachers_accuracy(mnist_dir):
    kwargs = dict(mnist=mnist_dir, epochs=2, seed=0, test_per_class=300, progress=False, cache_dir=None)
    on_gpu = train_teacher(10, 1000, device="cuda", **kwargs)
    on_cpu = train_teacher(10, 1000, device="cpu", **kwargs)
    assert next(on_gpu.model.parameters()).is_cuda
    assert abs(on_gpu.config.test_accuracy - on_cpu.config.test_accuracy) <= 0.003 + 1e-9
