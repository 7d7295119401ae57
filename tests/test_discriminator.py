"""The discriminator of Eq. 7: its size (Table 8), shapes, errors, and scoring with detached weights."""

import pytest
import torch

from lwkd_hf.discriminator import Discriminator


@pytest.mark.parametrize("k,expected", [(10, 4929), (15, 5249), (100, 10689)])
def test_discriminator_parameter_count(k, expected):
    # (K*64 + 64) + (64*64 + 64) + (64 + 1); Table 8 gives ~4.9K at K=10 (and ~10.8K beside a K=100-sized LeNet5).
    assert expected == k * 64 + 64 + 64 * 64 + 64 + 64 + 1
    assert sum(p.numel() for p in Discriminator(k).parameters()) == expected


def test_discriminator_shapes_and_errors():
    assert Discriminator(10)(torch.rand(7, 10)).shape == (7,)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        Discriminator(1)
    with pytest.raises(ValueError, match="hidden_sizes"):
        Discriminator(10, [64, 0])


def test_discriminator_with_detached_weights_scores_the_same_and_trains_only_its_input():
    torch.manual_seed(0)
    d = Discriminator(3)
    probs = torch.softmax(torch.randn(5, 3), dim=-1).requires_grad_(True)
    detached = d(probs, detach_weights=True)
    torch.testing.assert_close(detached, d(probs), rtol=0, atol=0)
    detached.sum().backward()
    assert probs.grad is not None and probs.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters())
