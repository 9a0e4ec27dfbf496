"""The CLI's malloc setting: big tensors come from glibc's heap (reused), not from fresh mmaps."""

import os
import subprocess
import sys

import pytest

from ganvas.utils.malloc import _glibc

# Prints whether the setting applied, whether a 48 MB tensor lies in the heap (below the program break),
# and how many page faults a 48 MB tensor costs once a loop of making and freeing such tensors (as a
# network's layers do) has run a while.
PROBE = """
import ctypes, resource, torch
from ganvas.utils.malloc import reuse_freed_memory
applied = reuse_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.sbrk.restype = ctypes.c_void_p
for step in range(21):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = torch.ones(12 * 2 ** 20)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    in_heap = t.data_ptr() < libc.sbrk(0)
    del t
print(applied, in_heap, faults)
"""


def probe(**env) -> tuple[bool, bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0] == "True", out[1] == "True", int(out[2])


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_big_tensors_reuse_the_heap():
    applied, in_heap, faults = probe(GANVAS_MALLOC="")
    assert applied and in_heap
    assert faults < 500  # 48 MB is 12,288 pages of 4 KB: the freed tensor's pages are reused
    applied, in_heap, _ = probe(GANVAS_MALLOC="system")  # opting out leaves glibc's mmap in charge
    assert not applied and not in_heap


def test_cli_applies_it(monkeypatch):
    from click.testing import CliRunner

    import ganvas.cli as cli

    calls = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: calls.append(1))
    assert CliRunner().invoke(cli.main, ["models"]).exit_code == 0
    assert calls == [1]
