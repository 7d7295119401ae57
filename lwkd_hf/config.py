"""``LWKDConfig``: ``TrainingArguments`` plus the settings of LW-KD's enhanced KD loss (paper Eq. 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class LWKDConfig(TrainingArguments):
    """Training arguments for :class:`~lwkd_hf.LWKDTrainer`.

    The loss is ``(1 - alpha) * CE + alpha * tau^2 * KL(p_t^tau || p_s^tau) + beta * L_ADV`` (Eq. 4, 7, 8).
    The defaults are the paper's text-classification setting (Sec. 5.1.2): alpha 0.5, beta 0.1, tau 6.
    With ``alpha = beta = 0`` no teacher column is needed and the trainer is plain supervised training
    (``label_smoothing_factor`` then gives the LSR baseline).
    """

    alpha: float = field(
        default=0.5,
        metadata={"help": "Weight of the KL term against cross-entropy (alpha in Eq. 4), in [0, 1]."},
    )
    beta: float = field(
        default=0.1,
        metadata={"help": "Weight of the adversarial term (beta in Eq. 8), >= 0. 0 builds no discriminator."},
    )
    temperature: float = field(
        default=6.0,
        metadata={"help": "Softmax temperature tau (Eq. 2) for the KL term and the discriminator's inputs, > 0."},
    )
    kl_temperature_scaling: bool = field(
        default=True,
        metadata={"help": "Multiply the KL term by tau^2 (Hinton et al.) so its gradient scale does not depend on tau."},
    )
    teacher_logits_column: str = field(
        default="teacher_logits",
        metadata={"help": "Dataset column holding the (shifted) teacher logits, one row of K floats per example."},
    )
    adversarial_loss: str = field(
        default="saturating",
        metadata={
            "help": "Student's adversarial term: 'saturating' is Eq. 7's log(1 - D(p_s)); "
            "'non_saturating' is -log D(p_s).",
            "choices": ["saturating", "non_saturating"],
        },
    )
    discriminator_hidden_sizes: list[int] = field(
        default_factory=lambda: [64, 64],
        metadata={"help": "Hidden layer widths of the discriminator MLP (default 64 64: 4,929 parameters at K=10)."},
    )
    discriminator_learning_rate: float = field(
        default=1e-3,
        metadata={"help": "Adam learning rate of the discriminator, which has its own optimizer (the paper states 0.1)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got alpha={self.alpha}")
        if self.beta < 0.0:
            raise ValueError(f"beta must be >= 0, got beta={self.beta}")
        if not self.temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got temperature={self.temperature}")
        if self.adversarial_loss not in ("saturating", "non_saturating"):
            raise ValueError(
                f"adversarial_loss must be 'saturating' or 'non_saturating', got adversarial_loss={self.adversarial_loss!r}"
            )
        if not self.discriminator_learning_rate > 0.0:
            raise ValueError(
                f"discriminator_learning_rate must be > 0, got discriminator_learning_rate={self.discriminator_learning_rate}"
            )

    @property
    def uses_teacher(self) -> bool:
        """Whether the loss needs the teacher column (alpha > 0 or beta > 0)."""
        return self.alpha > 0.0 or self.beta > 0.0
