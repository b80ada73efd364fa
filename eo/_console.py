"""The ``eo`` script's entry point: signals handled from the first moment, then the CLI (:mod:`eo.cli`).

Importing the CLI and the scientific stack takes most of a second.  SIGINT (Ctrl-C) or SIGTERM (a
scheduler stopping the job) arriving then must still end the process with one line and the
interrupted status (128 + the signal: 130, 143), not a traceback.  This module is small and imports
nothing heavy: it installs the handlers first.  A handler raises ``KeyboardInterrupt`` (the run stops,
writes its report and exits with that status) and records which signal came (:data:`received`).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

#: Signals received by this process (SIGINT, SIGTERM), in order.
received: list[int] = []


def _interrupt(signum: int, frame: Any) -> None:
    received.append(signum)
    raise KeyboardInterrupt


def console() -> None:
    """Entry point of the ``eo`` script."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from eo.cli import console as run_cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(128 + (received[-1] if received else signal.SIGINT))
    run_cli()
