"""The discriminator of LW-KD's adversarial term (paper Sec. 3.2.4, Eq. 7; Table 8's ~4.9K parameters)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Sequence

import torch
from torch import nn

from .losses import adversarial_logit_grads, adversarial_student_loss


class Discriminator(nn.Module):
    """A small MLP that scores a tau-softened K-dim distribution: a logit, positive for "teacher".

    With the default two hidden layers of 64 it has ``64*K + 64 + 4160 + 65`` parameters: 4,929 at K=10.
    """

    def __init__(self, num_classes: int, hidden_sizes: Sequence[int] = (64, 64)):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"Discriminator needs num_classes >= 2, got {num_classes}")
        if not hidden_sizes or any(h < 1 for h in hidden_sizes):
            raise ValueError(f"discriminator hidden_sizes must be positive integers, got {list(hidden_sizes)}")
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        width = num_classes
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        """``(batch, K)`` probabilities -> ``(batch,)`` logits of ``D``."""
        return self.net(probs.float()).squeeze(-1)

    @property
    def linears(self) -> list[nn.Linear]:
        return [layer for layer in self.net if isinstance(layer, nn.Linear)]


def _accumulate_grad(param: torch.Tensor, grad: torch.Tensor, scale: float) -> None:
    if scale != 1.0:
        grad.mul_(scale)
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)


class _AdversarialTerms(torch.autograd.Function):
    """Eq. 7 for both sides from one pass of ``D``, its backward pass written out; see :func:`adversarial_terms`.
    ``discriminator_grad_scale=None`` leaves ``D``'s ``.grad`` alone."""

    @staticmethod
    def forward(ctx, p_student, p_teacher, discriminator, non_saturating, discriminator_grad_scale):
        n_teacher, n_student = p_teacher.shape[0], p_student.shape[0]
        d_rows = n_teacher + n_student  # rows of D's loss
        layers = [(layer.weight, layer.bias) for layer in discriminator.linears]
        device_type = p_student.device.type
        with torch.autocast(device_type, enabled=False) if torch.is_autocast_enabled(device_type) else nullcontext():
            # Saturating, the student's term is minus D's loss on the student's rows: one backward pass of D's loss
            # gradient gives D's weights theirs and p_student its own, negated. The non-saturating term is not, so
            # the student's rows go in a second time to carry its gradient through the same pass.
            rows = [p_teacher, p_student, p_student] if non_saturating else [p_teacher, p_student]
            outputs = [torch.cat(rows).float()]
            for i, (weight, bias) in enumerate(layers):
                x = torch.addmm(bias, outputs[-1], weight.t())
                outputs.append(x.relu_() if i < len(layers) - 1 else x)
            logits = outputs[-1].squeeze(-1)
            grad = adversarial_logit_grads(logits, n_teacher, n_student, non_saturating).unsqueeze(-1)
            if non_saturating:
                logits = logits[:d_rows]
            for i in reversed(range(len(layers))):
                weight, bias = layers[i]
                if discriminator_grad_scale is not None:
                    grad_d = grad[:d_rows] if non_saturating else grad
                    inputs = outputs[i][:d_rows] if non_saturating else outputs[i]
                    _accumulate_grad(weight, torch.mm(grad_d.t(), inputs), discriminator_grad_scale)
                    _accumulate_grad(bias, grad_d.sum(0), discriminator_grad_scale)
                if i > 0:  # ReLU's backward is the op autograd uses: 5x faster than grad * (output > 0) on a CPU
                    grad = torch.ops.aten.threshold_backward(torch.mm(grad, weight), outputs[i], 0)
            student_first_row = d_rows if non_saturating else n_teacher
            grad_p_student = torch.mm(grad[student_first_row : student_first_row + n_student], layers[0][0])
            if not non_saturating:
                grad_p_student.neg_()
            adv = adversarial_student_loss(logits[n_teacher:], non_saturating)
        ctx.save_for_backward(grad_p_student)
        ctx.mark_non_differentiable(logits)
        return adv, logits

    @staticmethod
    def backward(ctx, grad_adv, grad_logits):
        (grad_p_student,) = ctx.saved_tensors
        return grad_adv * grad_p_student, None, None, None, None


def adversarial_terms(
    discriminator: Discriminator,
    p_teacher: torch.Tensor,
    p_student: torch.Tensor,
    non_saturating: bool = False,
    discriminator_grad_scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both sides of Eq. 7 from one forward pass of ``D`` over the teacher's and the student's rows, in fp32.

    Adds ``discriminator_grad_scale`` times the gradient of ``D``'s loss (:func:`~lwkd_hf.losses.discriminator_loss`,
    the student's rows taken as constants) to ``D``'s ``.grad``, and returns the student's term
    (:func:`~lwkd_hf.losses.adversarial_student_loss`), differentiable w.r.t. ``p_student`` with ``D``'s weights
    taken as constants, then ``D``'s logits on the teacher's and on the student's rows (no gradient). Values and
    gradients equal autograd's through :meth:`Discriminator.forward` up to rounding; the gradients are written out in
    closed form because the dozens of tiny ops of two autograd passes cost more than the arithmetic (issue 9). Under
    ``torch.no_grad()`` nothing is added to ``D``'s ``.grad``, as no backward pass would.
    """
    scale = discriminator_grad_scale if torch.is_grad_enabled() else None
    # p_student first: autograd.Function returns one gradient per input, in order, and only p_student's is not None
    adv, logits = _AdversarialTerms.apply(p_student, p_teacher, discriminator, non_saturating, scale)
    n = p_teacher.shape[0]
    return adv, logits[:n], logits[n:]
