"""The one way a command stops on SIGINT/SIGTERM: `run_cancellable` runs the command's async body in an event
loop, and the first signal cancels it through an anyio cancel scope — the same cancellation a Python caller
of the library gets by cancelling its task (`planalign.run_project_async`, the orchestrator, a sweep).
`planalign run`, `retry`, `simulate` and `scenarios` (with its sharded form) all stop this way.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable


def run_cancellable(
    body: Callable[[], Awaitable[None]],
    *,
    stopping: str,
    again: str = "already stopping; the database is safe",
    on_signal: Callable[[signal.Signals], None] | None = None,
) -> signal.Signals | None:
    """Run `body` in an event loop; returns the signal that interrupted it, or None.

    The first SIGINT or SIGTERM cancels it: dispatch stops, running queries are interrupted, the unsaved
    work is discarded, the run's record is written. The handlers stay installed until `body` has finished
    cleaning up, so further signals (an impatient second Ctrl-C, a service manager's repeated SIGTERM) are
    noted (`again`) and ignored instead of killing the process half-way through its summary; after an
    interrupt they stay ignored while the process exits. `stopping` ends the line printed at the first
    signal; `on_signal` is told which signal it was before the body is cancelled (a run records it as its
    reason). Only the main thread may receive signals: elsewhere the body runs without the handlers.
    """
    import threading

    import anyio

    interrupted: signal.Signals | None = None

    async def main() -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tg:

                async def watch_signals() -> None:
                    nonlocal interrupted
                    async for signum in signals:
                        if interrupted is None:
                            interrupted = signal.Signals(signum)
                            print(f"\n{interrupted.name}: stopping — {stopping}", file=sys.stderr, flush=True)
                            if on_signal is not None:
                                on_signal(interrupted)
                            run_scope.cancel()
                        else:
                            print(again, file=sys.stderr, flush=True)

                run_scope = anyio.CancelScope()
                tg.start_soon(watch_signals)
                with run_scope:
                    await body()
                tg.cancel_scope.cancel()

    async def unsignalled() -> None:
        await body()

    try:
        anyio.run(main if threading.current_thread() is threading.main_thread() else unsignalled)
    except BaseExceptionGroup as group:
        # The task group wraps the run's own exception; surface it as the CLI expects (usage errors → 2).
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        if interrupted is not None:
            # Stopping is decided and done; a late signal must not turn the exit into a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return interrupted
