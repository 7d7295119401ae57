"""Fixtures of the benchmark tests: benchmark scripts loaded from their files."""

import sys
from pathlib import Path

import pytest

from ..conftest import load_script

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str):
    """benchmarks/NAME.py as a module, with benchmarks/ on sys.path while it loads (it imports its neighbours:
    efficiency.py imports overhead.py, students.py imports costs.py)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return load_script(BENCHMARKS / f"{name}.py", name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def costs():
    return load_benchmark("costs")


@pytest.fixture(scope="module")
def efficiency():
    return load_benchmark("efficiency")


@pytest.fixture(scope="module")
def study():
    return load_benchmark("study")
