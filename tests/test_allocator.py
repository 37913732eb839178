"""The glibc allocator settings applied on import, and their opt-out."""
import os
import subprocess
import sys

from adjoin.core import allocator


def test_tune_allocator_is_safe_to_call_again():
    result = allocator.tune_allocator()
    assert isinstance(result, bool)
    if sys.platform.startswith("linux") and result:
        assert allocator._applied


def test_opt_out_keeps_glibc_defaults():
    code = "import adjoin.core.allocator as a, adjoin; print(a._applied)"
    env = dict(os.environ, ADJOIN_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
