"""train_teacher on real MNIST digits (sane, deterministic, recorded), default_per_class (Table 2), and on CUDA."""

import math

import numpy as np
import pytest
import torch

from lwkd_hf.synthesis import load_mnist
from lwkd_hf.teacher import Teacher, TeacherConfig
from lwkd_hf.teacher_training import _fit, default_per_class, train_teacher


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


class UnitGradient(torch.nn.Module):
    """Logits 0, 0 for every row whatever ``w`` is; with label 0 the mean cross-entropy's gradient in ``w`` is 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        offset = self.w - self.w.detach()
        return torch.stack([-offset, offset]).expand(len(x), 2)


def _weights_after_each_step(epochs, start, **recipe):
    """``_fit`` one step an epoch on UnitGradient; ``w`` is read, then set to ``start``, after every step."""
    config = TeacherConfig(num_classes=2, per_class=[4, 0], seed=0, epochs=epochs, batch_size=4,
                           mnist_source="", mnist_sha256="", test_accuracy=None, test_examples=0, train_seconds=0.0,
                           **recipe)
    model, weights = UnitGradient(), []
    with torch.no_grad():
        model.w.fill_(start)

    @torch.no_grad()
    def read_and_reset(epoch, model, loss):
        weights.append(model.w.item())
        model.w.fill_(start)

    _fit(model, torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), config, progress=False,
         on_epoch_end=read_and_reset)
    return weights


def test_fit_applies_the_warmup_cosine_rate_at_every_step():
    # w starts every step at 0 with gradient 1 and no momentum: afterwards it is minus the step's learning rate
    rates = [-w for w in _weights_after_each_step(21, 0.0, learning_rate=0.05, momentum=0.0, weight_decay=0.0,
                                                    lr_schedule="warmup-cosine")]
    # 21 steps: a warmup of ceil(0.05 * 21) = 2 steps, then a cosine over the other 19 that never reaches 0
    assert rates == [0.025, 0.05] + [0.05 * (0.5 * (1 + math.cos(math.pi * s / 19))) for s in range(19)]
    assert rates[2] == 0.05 and 0 < rates[-1] < 0.0004


def test_fit_applies_momentum_and_weight_decay():
    # w is 1 before every step: gradient 1 + 0.5 * 1, momentum buffer 1.5, 2.25, 2.625, 2.8125; w = 1 - 0.5 * buffer
    weights = _weights_after_each_step(4, 1.0, learning_rate=0.5, momentum=0.5, weight_decay=0.5,
                                       lr_schedule="constant")
    assert weights == [0.25, -0.125, -0.3125, -0.40625]


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
