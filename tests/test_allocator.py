"""models/allocator.py: freed blocks stay in the process after keep_freed_memory()."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Resident memory gained by allocating, touching and freeing a 64 MiB block.
SCRIPT = """
import os, sys
import numpy as np
from posebeam.models.allocator import keep_freed_memory

if sys.argv[1] == "keep":
    assert keep_freed_memory()
def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = resident()
block = np.ones(64 << 20, np.uint8)
del block
print(resident() - before)
"""


def resident_gain_mib(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(done.stdout) / 2**20


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")
def test_freed_blocks_stay_resident_only_after_keep_freed_memory() -> None:
    assert resident_gain_mib("default") < 16, "glibc unmaps a freed 64 MiB block by default"
    assert resident_gain_mib("keep") > 48, "the block stays in the heap for the next batch"
