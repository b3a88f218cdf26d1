import platform
import subprocess
import sys

import pytest

from shared.devices import pick_device, set_threads

# in a child process: keep_heap changes the allocator for the rest of the process it runs in
_FAULTS = """
import resource, sys, threading, torch
if sys.argv[1] == "keep":
    from shared.devices import keep_heap
    assert keep_heap()
torch.set_num_threads(1)
x, w = torch.randn(1, 32, 256, 256), torch.randn(32, 32, 3, 3)
out = {}
def work():
    for _ in range(2):  # first use: the heap grows once
        torch.nn.functional.conv2d(x, w, padding=1).relu().sum()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.nn.functional.conv2d(x, w, padding=1).relu().sum()
    out["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
t = threading.Thread(target=work)  # a worker thread, as gRPC runs a service's models
t.start(); t.join()
print(out["faults"])
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_keep_heap_reuses_freed_tensor_memory_in_a_worker_thread():
    def faults(mode: str) -> int:
        return int(subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True,
                                  check=True).stdout)

    # ten 8 MB convolutions: by default their outputs are mmap'd and faulted in page by page each time
    assert faults("default") > 10_000
    assert faults("keep") < 500


def test_set_threads_rejects_negative_and_reports_the_count():
    with pytest.raises(ValueError, match="threads must be 0"):
        set_threads(-1)
    assert set_threads(0) >= 1


def test_pick_device_auto_is_cpu_or_cuda():
    assert pick_device("auto").type in ("cpu", "cuda") and pick_device("cpu").type == "cpu"
