import inspect
import os
import platform
import re
import resource
import subprocess
import sys

import pytest

from lwkd_hf import allocator

# Twelve 8 MiB tensors made and freed, eight times; prints the page faults (fresh pages from the kernel) of each round.
ROUNDS = """
import resource, sys, torch
from lwkd_hf.allocator import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "keep" else None)
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensors = [torch.ones(2 << 20) for _ in range(12)]
    del tensors
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_PER_ROUND = 12 * (8 << 20) // resource.getpagesize()
# Both processes start from glibc settings that hand freed memory back at once: blocks above 128 KiB come from
# mmap, whatever was freed before (glibc's defaults raise both thresholds as a process frees large blocks, so
# whether they still hand back 96 MiB a round depends on the heap's history: on some machines they keep it after
# two rounds, and the comparison would show nothing).
HAND_BACK = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=0"


# the environment the allocator module documents for keep_freed_memory's defaults
DOCUMENTED_TUNABLES = re.search(r"GLIBC_TUNABLES=(\S+)", allocator.__doc__)[1]
DOCUMENTED_VARIABLES = dict(re.findall(r"(MALLOC_\w+_)=(\d+)", allocator.__doc__))


def page_faults_per_round(mode: str, tunables: str = HAND_BACK) -> tuple[str, list[int]]:
    # no preloaded allocator, malloc variables or torch huge pages from the caller's environment
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True,
                         env=env | {"GLIBC_TUNABLES": tunables})
    lines = out.stdout.split()
    return lines[0], [int(n) for n in lines[1:]]


@pytest.mark.slow  # two fresh processes importing torch and transformers
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory acts on glibc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    _, handed_back = page_faults_per_round("hand-back")
    if min(handed_back) < 0.9 * PAGES_PER_ROUND:  # e.g. transparent huge pages always on: a fault maps 2 MiB
        pytest.skip(f"fewer page faults than pages in a round of 96 MiB here ({handed_back}): nothing to compare")
    applied, kept = page_faults_per_round("keep")
    assert applied == "True"
    assert sum(kept[2:]) < 0.05 * sum(handed_back[2:])  # the heap serves them again
    _, kept_by_environment = page_faults_per_round("no call", tunables=DOCUMENTED_TUNABLES)
    assert sum(kept_by_environment[2:]) < 0.05 * sum(handed_back[2:])


def test_documented_environment_has_the_defaults_of_keep_freed_memory():
    defaults = {name: p.default for name, p in inspect.signature(allocator.keep_freed_memory).parameters.items()}
    assert defaults == {"mmap_threshold": 33554432, "trim_threshold": 2147483647, "top_pad": 67108864}
    assert DOCUMENTED_TUNABLES == ":".join(f"glibc.malloc.{name}={value}" for name, value in defaults.items())
    assert DOCUMENTED_VARIABLES == {f"MALLOC_{name.upper()}_": str(value) for name, value in defaults.items()}


def test_values_beyond_a_c_int_are_refused_before_anything_changes(monkeypatch):
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt must not be looked up"))
    with pytest.raises(ValueError, match=r"trim_threshold must be between 0 and 2147483647 .*got 4294967296"):
        allocator.keep_freed_memory(trim_threshold=4 << 30)
    with pytest.raises(ValueError, match="top_pad .* got -1"):
        allocator.keep_freed_memory(top_pad=-1)


def test_not_glibc_changes_nothing(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt must not be looked up"))
    assert allocator.keep_freed_memory() is False
