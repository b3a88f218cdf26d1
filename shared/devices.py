"""The one device picker: services, pipeline, training and evaluation choose devices the same way."""

from __future__ import annotations

import ctypes
import ctypes.util

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # the largest glibc accepts on 64-bit (HEAP_MAX_SIZE / 2)


def pick_device(name: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None): the first CUDA device when there is one, else the CPU; anything else as torch reads it."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(n: int) -> int:
    """Intra-op threads for this process (n > 0; 0 keeps torch's default, one per core) and one inter-op
    thread (nothing here runs independent operators side by side); returns the intra-op count in force."""
    if n < 0:
        raise ValueError(f"threads must be 0 (one per core) or more, not {n}")
    if n:
        torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already ran: keep what is there
        pass
    return torch.get_num_threads()


def keep_heap() -> bool:
    """Lets glibc's malloc reuse freed tensor memory instead of returning it to the kernel and faulting it in
    again, page by page, on the next transmission. Returns False where the C library is not glibc.

    A service runs the models in gRPC's worker threads, and glibc gives each thread an arena of its own whose
    large blocks are mmap'd and unmapped around every operator: at 768x512, ~30 000 page faults per
    transmission in a worker thread (~120 MB zeroed by the kernel), thousands in the main thread, against 0 with
    one arena, the mmap threshold at its maximum and no trimming (``python scripts/page_faults.py [--keep-heap]``).
    The cost: the heap stays at its peak (a service's memory is at its peak after the first transmission anyway).
    Call it before any thread starts.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, 2**31 - 1)))
