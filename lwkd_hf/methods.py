"""The training methods LW-KD is compared with, in one registry (paper Sec. 4.2, Tables 1, 4, 7).

Each method is a set of ``LWKDConfig`` loss settings plus the kind of soft-target column
it needs; one ``LWKDTrainer`` trains them all. The example script, the reproduction
benchmarks and the docs read this table; ``method_config`` applies it with ``dataclasses.replace``
so that ``LWKDConfig``'s validation runs on the result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .config import LWKDConfig

#: The soft-target column kinds (what fills the teacher column before training).
SOFT_TARGETS = (
    "none",  # no column: plain cross-entropy (with label smoothing for lsr)
    "virtual",  # Tf-KD's virtual teacher (baselines.add_virtual_teacher_logits)
    "virtual-legacy",  # the official Tf-KD code's variant
    "model",  # a trained classifier's logits (vanilla KD)
    "model-shuffled",  # the same, every entry but the maximum permuted (KD-shuffle)
    "model-shifted",  # a lightweight classifier trained on the target data, shifted (w/o SYN)
    "lightweight",  # the SynMNIST LeNet5 teacher, shifted (LW-KD)
)


@dataclass(frozen=True)
class Method:
    """A method: its loss settings (``LWKDConfig`` fields) and the soft-target column it needs."""

    name: str
    description: str
    soft_targets: str
    loss: dict = field(default_factory=dict)
    label_smoothing: bool = False

    @property
    def needs_lightweight_teacher(self) -> bool:
        return self.soft_targets == "lightweight"

    @property
    def needs_model_teacher(self) -> bool:
        return self.soft_targets.startswith("model")


METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        Method("sup", "plain supervision (Sup-Stu)", "none", {"alpha": 0.0, "beta": 0.0}),
        Method("lsr", "label smoothing, epsilon from the method's settings", "none", {"alpha": 0.0, "beta": 0.0}, True),
        Method("tfkd", "teacher-free KD: a virtual teacher with probability a on the label", "virtual", {"beta": 0.0}),
        Method("tfkd-legacy", "teacher-free KD as the official code computes it", "virtual-legacy", {"beta": 0.0}),
        Method("kd", "vanilla KD from a trained classifier", "model", {"beta": 0.0}),
        Method("kd-shuffle", "vanilla KD with all but the largest teacher output permuted (Table 1)", "model-shuffled",
               {"beta": 0.0}),
        Method("lwkd", "LW-KD: SynMNIST LeNet5 teacher, shifted, KL + adversarial (Eq. 8)", "lightweight"),
        Method("lwkd-no-adv", "LW-KD without the adversarial term (Table 7, w/o ADV)", "lightweight", {"beta": 0.0}),
        Method("lwkd-no-kl", "LW-KD without the KL term (Table 7, w/o KL)", "lightweight", {"alpha": 0.0}),
        Method("lwkd-no-syn", "LW-KD with a lightweight teacher trained on the target data (Table 7, w/o SYN)",
               "model-shifted"),
    ]
}
BASELINES = ("sup", "lsr", "tfkd", "tfkd-legacy", "kd", "kd-shuffle")
ABLATIONS = ("lwkd-no-adv", "lwkd-no-kl", "lwkd-no-syn")


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {list(METHODS)}") from None


def method_config(config: LWKDConfig, name: str, label_smoothing: float = 0.1) -> LWKDConfig:
    """``config`` with method ``name``'s loss settings (and ``label_smoothing`` for lsr), validated again."""
    method = get_method(name)
    changes = dict(method.loss)
    if method.label_smoothing:
        changes["label_smoothing_factor"] = label_smoothing
    return dataclasses.replace(config, **changes) if changes else config
