import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")
# a fresh teacher cache per test session: tests never see (or fill) the user's ~/.cache/lwkd_hf
os.environ["LWKD_CACHE_DIR"] = tempfile.mkdtemp(prefix="lwkd-test-cache-")
atexit.register(shutil.rmtree, os.environ["LWKD_CACHE_DIR"], ignore_errors=True)

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The offline data folder: $LWKD_DATA_DIR, defaulting to ../shared/data beside the checkout."""
    return Path(os.environ.get("LWKD_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = data_dir()
    if not (path / "mnist").is_dir():
        pytest.fail(f"offline data not found at {path}; set LWKD_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def mnist_dir(shared_data) -> Path:
    return shared_data / "mnist"


@pytest.fixture(scope="session")
def thucnews_dir(shared_data) -> Path:
    return shared_data / "thucnews"


@pytest.fixture(scope="session")
def toutiao_dir(shared_data) -> Path:
    return shared_data / "toutiao"
