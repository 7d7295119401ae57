"""Each loss term against its formula on hand-made tensors (paper Eq. 1-8)."""

import math

import numpy as np
import pytest
import torch

from lwkd_hf.losses import (
    KL_SCALINGS,
    adversarial_student_loss,
    cross_entropy_loss,
    discriminator_loss,
    enhanced_kd_loss,
    kd_kl_loss,
    kl_scale,
    softened_probs,
)

STUDENT = torch.tensor([[2.0, 1.0, 0.0], [0.5, 0.5, 3.0]])
TEACHER = torch.tensor([[4.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
LABELS = torch.tensor([0, 2])


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_softened_probs_is_eq2():
    tau = 2.0
    z = np.array([[2.0, 1.0, 0.0]])
    expected = np.exp(z / tau) / np.exp(z / tau).sum()
    np.testing.assert_allclose(softened_probs(torch.tensor(z), tau).numpy(), expected, rtol=1e-6)


def test_cross_entropy_matches_formula():
    row0 = -math.log(math.exp(2) / (math.exp(2) + math.exp(1) + 1))
    row1 = -math.log(math.exp(3) / (2 * math.exp(0.5) + math.exp(3)))
    assert cross_entropy_loss(STUDENT, LABELS).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_cross_entropy_label_smoothing_matches_formula():
    eps, k = 0.1, 3
    logp = np.log(np_softmax(STUDENT.numpy().astype(np.float64)))
    target = np.full((2, k), eps / k)
    target[[0, 1], [0, 2]] += 1 - eps
    expected = -(target * logp).sum(axis=1).mean()
    assert cross_entropy_loss(STUDENT, LABELS, label_smoothing=eps).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("tau", [1.0, 4.0, 6.0])
@pytest.mark.parametrize("scaling,factor", [("none", lambda tau, k: 1.0), ("tau2", lambda tau, k: tau**2),
                                            ("tau2_over_k", lambda tau, k: tau**2 / k)])
def test_kl_is_batchmean_teacher_to_student_times_its_scaling(tau, scaling, factor):
    p_t = np_softmax(TEACHER.numpy().astype(np.float64) / tau)
    p_s = np_softmax(STUDENT.numpy().astype(np.float64) / tau)
    kl = (p_t * (np.log(p_t) - np.log(p_s))).sum(axis=1).mean()
    assert kd_kl_loss(STUDENT, TEACHER, tau, scaling).item() == pytest.approx(kl * factor(tau, 3), rel=1e-5)


def test_kl_scalings_at_tau6_k10_are_1_36_and_3_6():
    assert [kl_scale(s, 6.0, 10) for s in KL_SCALINGS] == [1.0, 36.0, pytest.approx(3.6)]
    with pytest.raises(ValueError, match="kl_scaling must be one of"):
        kl_scale("tau", 6.0, 10)


def test_kl_is_zero_for_identical_logits():
    assert kd_kl_loss(TEACHER, TEACHER, 6.0).item() == pytest.approx(0.0, abs=1e-7)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_adversarial_student_terms_match_eq7():
    d = torch.tensor([-1.0, 0.0, 2.5])
    expected_saturating = np.mean(np.log(1 - sigmoid(d.numpy().astype(np.float64))))
    expected_non_saturating = -np.mean(np.log(sigmoid(d.numpy().astype(np.float64))))
    assert adversarial_student_loss(d).item() == pytest.approx(expected_saturating, rel=1e-6)
    assert adversarial_student_loss(d, non_saturating=True).item() == pytest.approx(expected_non_saturating, rel=1e-6)


def test_discriminator_loss_is_minus_eq7():
    real = np.array([1.0, -0.5])
    fake = np.array([0.3, -2.0, 0.0])
    l_adv = np.mean(np.log(sigmoid(real))) + np.mean(np.log(1 - sigmoid(fake)))
    assert discriminator_loss(torch.tensor(real), torch.tensor(fake)).item() == pytest.approx(-l_adv, rel=1e-6)


def test_autograds_adversarial_gradients_are_the_closed_forms():
    """Eq. 7's gradients w.r.t. D's logits: teacher rows (sigmoid(d) - 1) / n_t, student rows sigmoid(d) / n_s for D's
    loss; for the student's term minus the latter (saturating) or (sigmoid(d) - 1) / n_s (non-saturating)."""
    d_t = torch.tensor([1.0, -0.5, 3.0], dtype=torch.float64, requires_grad=True)
    d_s = torch.tensor([0.3, -2.0], dtype=torch.float64, requires_grad=True)
    grad_t, grad_s = torch.autograd.grad(discriminator_loss(d_t, d_s), [d_t, d_s])
    (grad_sat,) = torch.autograd.grad(adversarial_student_loss(d_s), d_s)
    (grad_ns,) = torch.autograd.grad(adversarial_student_loss(d_s, non_saturating=True), d_s)
    sig_t, sig_s = torch.sigmoid(d_t.detach()), torch.sigmoid(d_s.detach())
    torch.testing.assert_close(grad_t, ((sig_t - 1) / 3).float(), check_dtype=False)
    torch.testing.assert_close(grad_s, (sig_s / 2).float(), check_dtype=False)
    torch.testing.assert_close(grad_sat, -grad_s)
    torch.testing.assert_close(grad_ns, ((sig_s - 1) / 2).float(), check_dtype=False)
    # by hand at d = 0: teacher rows (1/2 - 1) / 1, student rows (1/2) / 2
    zero_t, zero_s = torch.zeros(1, requires_grad=True), torch.zeros(2, requires_grad=True)
    grads = torch.autograd.grad(discriminator_loss(zero_t, zero_s), [zero_t, zero_s])
    assert [g.tolist() for g in grads] == [[-0.5], [0.25, 0.25]]



def test_enhanced_loss_is_eq8():
    ce, kl, adv = torch.tensor(1.2), torch.tensor(0.4), torch.tensor(-0.7)
    assert enhanced_kd_loss(ce, kl, adv, alpha=0.5, beta=0.1).item() == pytest.approx(0.5 * 1.2 + 0.5 * 0.4 - 0.07)
    assert enhanced_kd_loss(ce, kl, adv, alpha=0.0, beta=0.0).item() == pytest.approx(1.2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_terms_stay_finite_in_low_precision_with_extreme_logits(dtype):
    student = (torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])).to(dtype)
    teacher = torch.tensor([[-1e4, 1e4, 0.0], [1e4, -1e4, 0.0]]).to(dtype)
    for tau in (1.0, 6.0, 20.0):
        kl = kd_kl_loss(student, teacher, tau)
        assert kl.dtype == torch.float32 and torch.isfinite(kl)
        p = softened_probs(student, tau)
        assert p.dtype == torch.float32 and torch.isfinite(p).all()
    assert torch.isfinite(cross_entropy_loss(student, torch.tensor([1, 0])))
    big = torch.tensor([1e4, -1e4]).to(dtype)
    assert torch.isfinite(adversarial_student_loss(big)) and torch.isfinite(adversarial_student_loss(big, True))
    assert torch.isfinite(discriminator_loss(big, -big))
