"""The method registry: each method's loss settings applied through LWKDConfig's validation."""

import pytest

from lwkd_hf.config import LWKDConfig
from lwkd_hf.methods import ABLATIONS, BASELINES, METHODS, SOFT_TARGETS, get_method, method_config


@pytest.fixture
def config(tmp_path):
    return LWKDConfig(output_dir=str(tmp_path), alpha=0.3, beta=0.2, temperature=4.0, report_to=[], use_cpu=True)


@pytest.mark.parametrize(
    "name,alpha,beta,smoothing",
    [("sup", 0.0, 0.0, 0.0), ("lsr", 0.0, 0.0, 0.25), ("tfkd", 0.3, 0.0, 0.0), ("kd", 0.3, 0.0, 0.0),
     ("kd-shuffle", 0.3, 0.0, 0.0), ("lwkd", 0.3, 0.2, 0.0), ("lwkd-no-adv", 0.3, 0.0, 0.0),
     ("lwkd-no-kl", 0.0, 0.2, 0.0), ("lwkd-no-syn", 0.3, 0.2, 0.0)],
)
def test_method_config_overrides_only_what_the_method_switches_off(config, name, alpha, beta, smoothing):
    applied = method_config(config, name, label_smoothing=0.25)
    assert (applied.alpha, applied.beta, applied.label_smoothing_factor) == (alpha, beta, smoothing)
    assert applied.temperature == 4.0 and applied.output_dir == config.output_dir


def test_registry_is_consistent():
    assert set(BASELINES) | set(ABLATIONS) | {"lwkd"} == set(METHODS)
    assert all(m.soft_targets in SOFT_TARGETS for m in METHODS.values())
    assert [m for m in METHODS if METHODS[m].needs_lightweight_teacher] == ["lwkd", "lwkd-no-adv", "lwkd-no-kl"]
    with pytest.raises(ValueError, match="unknown method 'kd2'"):
        get_method("kd2")


def test_method_config_validates_the_result(config):
    with pytest.raises(ValueError, match=r"label_smoothing_factor must be in \[0, 1\), got label_smoothing_factor=1.5"):
        method_config(config, "lsr", label_smoothing=1.5)
