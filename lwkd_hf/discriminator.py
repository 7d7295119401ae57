"""The discriminator of LW-KD's adversarial term (paper Sec. 3.2.4, Eq. 7; Table 8's ~4.9K parameters)."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn
from torch.func import functional_call

from .losses import adversarial_student_loss, discriminator_loss


class Discriminator(nn.Module):
    """A small MLP that scores a tau-softened K-dim distribution: a logit, positive for "teacher".

    With the default two hidden layers of 64 it has ``64*K + 64 + 4160 + 65`` parameters: 4,929 at K=10.
    It computes in fp32 whatever autocast is around it.
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
        with torch.autocast(probs.device.type, enabled=False):
            return self.net(probs.float()).squeeze(-1)


class AdversarialTerms(NamedTuple):
    """Both sides of Eq. 7 for one batch."""

    student_loss: torch.Tensor  #: the student's term, D's weights held constant
    discriminator_loss: torch.Tensor  #: D's loss, the student's distributions held constant
    on_teacher: torch.Tensor  #: D's logits on the teacher's rows (no gradient)
    on_student: torch.Tensor  #: D's logits on the student's rows (no gradient)


def adversarial_terms(
    discriminator: Discriminator, p_teacher: torch.Tensor, p_student: torch.Tensor, non_saturating: bool = False
) -> AdversarialTerms:
    """Eq. 7's two sides: ``D``'s loss (``discriminator_loss``) on detached teacher and student
    rows, whose gradient reaches ``D`` only, and the student's term (``adversarial_student_loss``)
    through ``D`` with its weights detached (``torch.func.functional_call``), whose gradient reaches ``p_student``
    only. One backward pass of their sum therefore trains each side on its own objective."""
    on_both = discriminator(torch.cat([p_teacher, p_student]).detach())
    on_teacher, on_student = on_both.split([p_teacher.shape[0], p_student.shape[0]])
    frozen = {name: p.detach() for name, p in discriminator.named_parameters()}
    student_loss = adversarial_student_loss(functional_call(discriminator, frozen, (p_student,)), non_saturating)
    return AdversarialTerms(
        student_loss, discriminator_loss(on_teacher, on_student), on_teacher.detach(), on_student.detach()
    )
