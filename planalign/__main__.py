"""`python -m planalign` and the `planalign` console script → the CLI."""

import os
import sys
import threading

from planalign.cli import main
from planalign.cli._common import ExitStatus


def run() -> None:
    code = main()
    if code == ExitStatus.INTERRUPTED and any(
        t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()
    ):
        # An interruption during the dbt parse leaves the parse finishing in its (non-daemon) worker thread,
        # which dbt cannot stop; the interpreter would wait for it for seconds (a minute under load). The user
        # asked to stop and everything worth keeping is on disk already: the summary is written and the
        # database changes only by atomic replacement.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
