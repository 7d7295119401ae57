"""The discriminator of LW-KD's adversarial term (paper Sec. 3.2.4, Eq. 7; Table 8's ~4.9K parameters)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


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

    def forward(self, probs: torch.Tensor, detach_weights: bool = False) -> torch.Tensor:
        """``(batch, K)`` probabilities -> ``(batch,)`` logits of ``D``.

        With ``detach_weights`` the weights are used detached: gradients reach ``probs`` but not ``D``
        (the student's adversarial term, Eq. 7).
        """
        if not detach_weights:
            return self.net(probs.float()).squeeze(-1)
        x = probs.float()
        for layer in self.net:
            x = F.linear(x, layer.weight.detach(), layer.bias.detach()) if isinstance(layer, nn.Linear) else layer(x)
        return x.squeeze(-1)
