"""Ctrl-C (SIGINT) during a run under `anyio.run`: the main task is cancelled, dispatch stops, running models
are interrupted, and `last_result` records what happened before KeyboardInterrupt reaches the caller."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from pathlib import Path
    import anyio
    from planalign.engine.invocation import InvocationOutcome, OutcomeStatus, current_scope
    from planalign.engine.nodes import ManifestNode, ProjectManifest
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.classification import ModelClassifier, ModelExecutionType
    from planalign.engine.runner import EngineSettings, ParallelExecutionEngine

    names = ["a_first", "a_second"] + [f"z{i}" for i in range(6)]
    nodes = {f"model.p.{n}": ManifestNode(f"model.p.{n}", n, "model", "p") for n in names}
    manifest = ProjectManifest(Path("."), nodes)

    class Invoker:
        supports_concurrency = True

        def __init__(self):
            self.stop = threading.Event()
            self.lock = threading.Lock()
            self.running = 0
            self.started = []

        def run_model(self, node, *, vars):
            with current_scope().stoppable(self.interrupt):
                with self.lock:
                    self.running += 1
                    self.started.append(node.name)
                    if self.running == 2:
                        print("READY", flush=True)
                self.stop.wait(10)
                with self.lock:
                    self.running -= 1
            return InvocationOutcome(OutcomeStatus.ERROR, "interrupted")

        def interrupt(self):
            self.stop.set()
            return 1

    invoker = Invoker()
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    engine = ParallelExecutionEngine(
        analyzer, invoker, EngineSettings(max_workers=2, resource_monitoring=False)
    )

    async def main():
        await engine.execute(sorted(nodes), vars={})

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        result = engine.last_result
        print(json.dumps({
            "cancelled": result.cancelled,
            "statuses": {r.name: r.status.value for r in result.results},
            "started": invoker.started,
        }), flush=True)
        sys.exit(130)
    sys.exit(0)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child process")
def test_sigint_cancels_the_run_and_records_it(tmp_path: Path) -> None:
    script = tmp_path / "ctrl_c.py"
    script.write_text(SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first_line = proc.stdout.readline().strip()
        assert first_line == "READY", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["cancelled"] is True
    assert sorted(report["started"]) == ["a_first", "a_second"]
    assert set(report["statuses"].values()) == {"cancelled"}
