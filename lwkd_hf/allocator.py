"""Keeping freed memory in the process: CPU training without fresh pages from the kernel for every new tensor.

``keep_freed_memory`` changes glibc's malloc (``mallopt``: mmap threshold, trim threshold, top pad) for the whole
process and for good: the process stays larger, and loader workers forked later inherit the settings. Nothing in
lwkd_hf calls it; the example script does only when asked (``--keep_freed_memory``). The same settings without code,
with this function's defaults, in the environment of the command that starts the process (glibc reads it at
start-up; child processes inherit it)::

    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647:glibc.malloc.top_pad=67108864
    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_TOP_PAD_=67108864  # older variables
"""

from __future__ import annotations

import ctypes
import platform

# mallopt's parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
C_INT_MAX = (1 << 31) - 1


def keep_freed_memory(
    mmap_threshold: int = 32 << 20, trim_threshold: int = C_INT_MAX, top_pad: int = 64 << 20
) -> bool:
    """Ask glibc's malloc to keep freed memory for the process's next tensors instead of handing it back.

    By default glibc serves blocks above 128 KiB from fresh kernel pages (``mmap``) and hands freed memory back
    once more than twice its largest block is free, so the activations of a CPU training step are zero-filled and
    faulted in again every step (about 6,000 page faults a TextCNN step here). After this call blocks up to
    ``mmap_threshold`` bytes come from the heap, which keeps up to ``trim_threshold`` bytes of freed memory and grows
    by ``top_pad`` at a time. The process holds on to what it freed; the numbers computed are the same. On 2 CPU
    cores the README's TextCNN job ran about 10 % faster (README, "Cost of LW-KD"); the teacher's training gains
    nothing (SynMNIST's large arrays already raise glibc's thresholds). The settings cannot be undone and hold for
    the whole process and the processes it forks; call it once, early. Each value must fit mallopt's C ``int``
    (0 to 2**31 - 1).

    Returns whether the settings took effect: False where the C library is not glibc (nothing changed) or glibc
    refused a setting.
    """
    settings = {"mmap_threshold": (M_MMAP_THRESHOLD, mmap_threshold), "trim_threshold": (M_TRIM_THRESHOLD, trim_threshold),
                "top_pad": (M_TOP_PAD, top_pad)}
    for name, (_, value) in settings.items():
        if not 0 <= value <= C_INT_MAX:
            raise ValueError(f"{name} must be between 0 and {C_INT_MAX} (mallopt takes a C int), got {value}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([mallopt(parameter, value) == 1 for parameter, value in settings.values()])
