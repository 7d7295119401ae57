"""The discriminator of Eq. 7: its size (Table 8), shapes, errors, fp32 under autocast, and Eq. 7's two sides."""

import pytest
import torch

from lwkd_hf.discriminator import Discriminator, adversarial_terms
from lwkd_hf.losses import adversarial_student_loss, discriminator_loss


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


def test_discriminator_computes_in_fp32_under_autocast():
    torch.manual_seed(0)
    d, probs = Discriminator(4), torch.softmax(torch.randn(3, 4), dim=-1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = d(probs.bfloat16())
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, d(probs.bfloat16().float()), rtol=0, atol=0)


@pytest.mark.parametrize("non_saturating", [False, True])
@pytest.mark.parametrize("hidden_sizes", [(64, 64), (5,), (7, 6, 5)])
def test_one_backward_of_both_terms_trains_each_side_on_its_own_objective(non_saturating, hidden_sizes):
    torch.manual_seed(0)
    d = Discriminator(4, hidden_sizes)
    p_teacher = torch.softmax(3 * torch.randn(6, 4), dim=-1)
    p_student = torch.softmax(torch.randn(5, 4), dim=-1).requires_grad_(True)  # sides of different sizes
    # references, each side by itself: D's loss on D (student rows constant), the student's term on p_student only
    reference = Discriminator(4, hidden_sizes)
    reference.load_state_dict(d.state_dict())
    discriminator_loss(reference(p_teacher), reference(p_student.detach())).backward()
    reference.requires_grad_(False)
    adv_ref = adversarial_student_loss(reference(p_student), non_saturating)
    (grad_student_ref,) = torch.autograd.grad(adv_ref, p_student)

    terms = adversarial_terms(d, p_teacher, p_student, non_saturating)
    assert all(p.grad is None for p in d.parameters())  # no gradient before a backward pass
    torch.testing.assert_close(terms.student_loss, adv_ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(terms.on_teacher, reference(p_teacher), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(terms.on_student, reference(p_student).detach(), rtol=1e-6, atol=1e-7)
    assert not terms.on_teacher.requires_grad and not terms.on_student.requires_grad
    (3 * terms.student_loss + 0.5 * terms.discriminator_loss).backward()
    torch.testing.assert_close(p_student.grad, 3 * grad_student_ref, rtol=1e-5, atol=1e-9)
    for p, ref in zip(d.parameters(), reference.parameters()):
        assert ref.grad.abs().sum() > 0
        torch.testing.assert_close(p.grad, 0.5 * ref.grad, rtol=1e-5, atol=1e-7)


def test_no_gradient_reaches_d_without_a_backward_pass_and_double_backward_keeps_ds_terms():
    torch.manual_seed(3)
    d = Discriminator(3, (4,))
    p_teacher, p_student = torch.softmax(torch.randn(2, 4, 3), dim=-1)
    with torch.no_grad():
        adversarial_terms(d, p_teacher, p_student)
    adversarial_terms(d, p_teacher, p_student)  # a forward pass whose backward never comes
    assert all(p.grad is None for p in d.parameters())
    # a gradient penalty (double backward) on D's loss differentiates through D's weights twice
    loss = adversarial_terms(d, p_teacher, p_student).discriminator_loss
    (first,) = torch.autograd.grad(loss, d.net[0].weight, create_graph=True)
    first.pow(2).sum().backward()
    assert d.net[0].weight.grad is not None and d.net[0].weight.grad.abs().sum() > 0
