"""The discriminator of Eq. 7: its size (Table 8), shapes, errors, and both sides of Eq. 7 from one pass against autograd."""

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


def autograd_reference(d, p_teacher, p_student, non_saturating):
    """Eq. 7's two sides by autograd through D.forward: D's loss gradient on D, the student's on p_student."""
    p_student = p_student.clone().requires_grad_(True)
    discriminator_loss(d(p_teacher), d(p_student.detach())).backward()
    d_grads = [p.grad.clone() for p in d.parameters()]
    d.zero_grad(set_to_none=True)
    adv = adversarial_student_loss(d(p_student), non_saturating)
    adv.backward()
    d.zero_grad(set_to_none=True)
    return adv.detach(), p_student.grad, d_grads


@pytest.mark.parametrize("non_saturating", [False, True])
@pytest.mark.parametrize("hidden_sizes", [(64, 64), (5,), (7, 6, 5)])
def test_adversarial_terms_give_autograds_values_and_gradients_from_one_pass(non_saturating, hidden_sizes):
    torch.manual_seed(0)
    d = Discriminator(4, hidden_sizes)
    p_teacher = torch.softmax(3 * torch.randn(6, 4), dim=-1)
    p_student = torch.softmax(torch.randn(5, 4), dim=-1)  # sides of different sizes: each side's mean is its own
    adv_ref, grad_student_ref, d_grads_ref = autograd_reference(d, p_teacher, p_student, non_saturating)

    p_student.requires_grad_(True)
    adv, on_teacher, on_student = adversarial_terms(d, p_teacher, p_student, non_saturating, discriminator_grad_scale=0.5)
    torch.testing.assert_close(adv, adv_ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(on_teacher, d(p_teacher).detach(), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(on_student, d(p_student).detach(), rtol=1e-6, atol=1e-7)
    assert not on_teacher.requires_grad and not on_student.requires_grad
    for grad, ref in zip([p.grad for p in d.parameters()], d_grads_ref):  # D's gradient, scaled, already in .grad
        torch.testing.assert_close(grad, 0.5 * ref, rtol=1e-5, atol=1e-7)
    d_grads = [p.grad.clone() for p in d.parameters()]
    (3 * adv).backward()  # the student's side: a gradient on p_student only, none added to D
    torch.testing.assert_close(p_student.grad, 3 * grad_student_ref, rtol=1e-5, atol=1e-9)
    for grad, before in zip([p.grad for p in d.parameters()], d_grads):
        torch.testing.assert_close(grad, before, rtol=0, atol=0)


def test_adversarial_terms_accumulate_into_d_grad_like_backward():
    torch.manual_seed(1)
    d = Discriminator(3)
    p_teacher, p_student = torch.softmax(torch.randn(2, 4, 3), dim=-1)
    adversarial_terms(d, p_teacher, p_student)
    first = [p.grad.clone() for p in d.parameters()]
    adversarial_terms(d, p_teacher, p_student, discriminator_grad_scale=2.0)
    for grad, once in zip([p.grad for p in d.parameters()], first):
        torch.testing.assert_close(grad, 3 * once, rtol=1e-6, atol=0)



def test_adversarial_terms_under_no_grad_leave_d_grad_alone():
    torch.manual_seed(3)
    d = Discriminator(3)
    p_teacher, p_student = torch.softmax(torch.randn(2, 4, 3), dim=-1)
    with torch.no_grad():
        adv, _, _ = adversarial_terms(d, p_teacher, p_student)
    assert all(p.grad is None for p in d.parameters())
    torch.testing.assert_close(adv, adversarial_student_loss(d(p_student)).detach(), rtol=1e-6, atol=0)
