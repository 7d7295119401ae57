"""The terms of LW-KD's enhanced KD loss as pure functions (paper Eq. 1-8).

Every function takes logits of any floating dtype and computes in fp32 and in log space, so
bf16/fp16 student logits, large temperatures and large logits stay finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def softened_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``p^tau = softmax(z / tau)`` (Eq. 2), computed in fp32."""
    return F.softmax(logits.float() / temperature, dim=-1)


def softened_log_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log p^tau = log_softmax(z / tau)`` (Eq. 2), computed in fp32."""
    return F.log_softmax(logits.float() / temperature, dim=-1)


def cross_entropy_loss(student_logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """``H(p, p^s)``, the supervised term of Eq. 4, mean over the batch."""
    return F.cross_entropy(student_logits.float(), labels.long(), label_smoothing=label_smoothing)


KL_SCALINGS = ("none", "tau2", "tau2_over_k")


def kl_scale(scaling: str, temperature: float, num_classes: int) -> float:
    """The factor on the batch-mean KL: ``none`` 1 (Eq. 4 as written), ``tau2`` tau^2 (Hinton et al.),
    ``tau2_over_k`` tau^2 / K (the Tf-KD code's ``nn.KLDivLoss()`` element-wise mean times tau^2)."""
    if scaling == "none":
        return 1.0
    if scaling == "tau2":
        return temperature**2
    if scaling == "tau2_over_k":
        return temperature**2 / num_classes
    raise ValueError(f"kl_scaling must be one of {KL_SCALINGS}, got {scaling!r}")


def kl_from_log_probs(log_p_student: torch.Tensor, log_p_teacher: torch.Tensor) -> torch.Tensor:
    """``KL(p_t || p_s)`` from log-probabilities, mean over the batch (Eq. 1)."""
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def kd_kl_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    scaling: str = "none",
) -> torch.Tensor:
    """``L_KL(p_t^tau, p_s^tau) = KL(p_t^tau || p_s^tau)``, mean over the batch (Eq. 1 and 4), times
    ``kl_scale`` (``scaling="none"``: exactly Eq. 4's term)."""
    kl = kl_from_log_probs(softened_log_probs(student_logits, temperature), softened_log_probs(teacher_logits, temperature))
    return kl * kl_scale(scaling, temperature, student_logits.shape[-1])


def adversarial_student_loss(discriminator_logits_on_student: torch.Tensor, non_saturating: bool = False) -> torch.Tensor:
    """The student's part of Eq. 7, minimised by the student: ``E[log(1 - D(p_s^tau))]``.

    With ``non_saturating=True`` it is ``-E[log D(p_s^tau)]`` (Goodfellow et al.'s variant). ``D`` is
    given as a logit, ``D(x) = sigmoid(d)``.
    """
    d = discriminator_logits_on_student.float()
    if non_saturating:
        return -F.logsigmoid(d).mean()
    return F.logsigmoid(-d).mean()


def discriminator_loss(logits_on_teacher: torch.Tensor, logits_on_student: torch.Tensor) -> torch.Tensor:
    """``-L_ADV`` of Eq. 7: minimising it maximises ``E[log D(p_t)] + E[log(1 - D(p_s))]``, each expectation the
    mean over its own rows."""
    return -(F.logsigmoid(logits_on_teacher.float()).mean() + F.logsigmoid(-logits_on_student.float()).mean())


def enhanced_kd_loss(
    ce: torch.Tensor, kl: torch.Tensor, adversarial: torch.Tensor | float, alpha: float, beta: float
) -> torch.Tensor:
    """``L = (1 - alpha) * CE + alpha * L_KL + beta * L_ADV`` (Eq. 4 and Eq. 8)."""
    return (1.0 - alpha) * ce + alpha * kl + beta * adversarial
