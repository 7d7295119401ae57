"""LWKDConfig: invalid LW-KD settings fail when the arguments are built, before any trainer exists."""

import pytest


@pytest.mark.parametrize(
    "overrides,message",
    [
        (dict(temperature=0.0), "temperature must be > 0, got temperature=0.0"),
        (dict(temperature=-1.0), "temperature=-1.0"),
        (dict(alpha=1.5), r"alpha must be in \[0, 1\], got alpha=1.5"),
        (dict(alpha=-0.1), "alpha=-0.1"),
        (dict(beta=-0.5), "beta must be >= 0, got beta=-0.5"),
        (dict(adversarial_loss="wasserstein"), "adversarial_loss"),
        (dict(discriminator_learning_rate=0.0), "discriminator_learning_rate"),
        (dict(kl_scaling="tau^2"), r"kl_scaling must be one of \('none', 'tau2', 'tau2_over_k'\), got kl_scaling='tau\^2'"),
    ],
)
def test_invalid_settings_fail_at_once(tmp_path, make_args, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_args(tmp_path, **overrides)
