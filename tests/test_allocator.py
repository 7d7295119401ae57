import platform
import subprocess
import sys

import pytest

from lwkd_hf import allocator

# Four 8 MiB tensors made and freed, eight times; prints the page faults (fresh pages from the kernel) of each round.
# glibc's defaults hand the 32 MiB back after every round (its dynamic thresholds stop at twice the largest block).
ROUNDS = """
import resource, sys, torch
from lwkd_hf.allocator import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "keep" else None)
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensors = [torch.ones(2 << 20) for _ in range(4)]
    del tensors
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_PER_ROUND = 4 * (8 << 20) // 4096


def page_faults_per_round(mode: str) -> tuple[str, list[int]]:
    lines = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True).stdout.split()
    return lines[0], [int(n) for n in lines[1:]]


@pytest.mark.slow  # two fresh processes importing torch and transformers
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory acts on glibc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, kept = page_faults_per_round("keep")
    _, default = page_faults_per_round("default")
    assert applied == "True"
    assert all(faults >= 0.9 * PAGES_PER_ROUND for faults in default[2:])  # every round takes fresh pages
    assert sum(kept[2:]) < 0.05 * PAGES_PER_ROUND  # the heap serves them again


def test_not_glibc_changes_nothing(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt must not be looked up"))
    assert allocator.keep_freed_memory() is False
