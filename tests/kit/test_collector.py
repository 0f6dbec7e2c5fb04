"""The garbage collector's settings for a long-running server."""

from __future__ import annotations

import gc
import subprocess
import sys


def test_startup_objects_are_frozen_and_the_young_threshold_raised() -> None:
    # In a fresh interpreter: the test process's own collector is left as it is.
    code = (
        "import gc\n"
        "from patron.kit.collector import YOUNG_THRESHOLD, settle_after_startup\n"
        "before = gc.get_threshold()\n"
        "settle_after_startup()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:]), gc.get_threshold()\n"
        "assert gc.isenabled()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert gc.isenabled()
