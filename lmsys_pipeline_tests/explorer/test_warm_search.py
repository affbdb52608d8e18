"""The server's process does its numeric work on one core per request (``lmsys serve``), in a
fresh process here, since the limits are process-wide."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.subprocess

PROBE = """
from lmsys_pipeline.explorer.warm_search import one_core_each
import numpy, threadpoolctl, torch
one_core_each()
pools = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
print(torch.get_num_threads(), max(pools or [1]))
"""


def test_one_core_each_limits_blas_and_torch():
    found = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    assert found.stdout.split() == ["1", "1"]
