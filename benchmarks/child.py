"""Run a workload module as ``__main__`` and report this process's own peak RSS when it exits.

``python -m benchmarks.child MODULE ARGS...``.  The peak is ``VmHWM`` of ``/proc/self/status``
(Linux), written to the file named by ``$EO_BENCH_HWM_FILE``.  It is the peak of this process
only, counted from its ``exec``: unlike ``ru_maxrss`` from ``wait4``, it does not start from the
RSS of the (large) harness process that forked it.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys


def _report() -> None:
    target = os.environ.get("EO_BENCH_HWM_FILE")
    if not target:
        return
    try:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return
    with open(target, "w") as out:
        out.write(str(kib))


def main() -> None:
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    atexit.register(_report)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
