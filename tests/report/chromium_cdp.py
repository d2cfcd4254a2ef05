"""A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`, for the report's browser test.

The pipe transport needs no extra package and no TCP port: Chromium reads NUL-terminated JSON commands from
file descriptor 3 and writes responses and events to descriptor 4. The client keeps every event it receives so
the test can look at console messages, exceptions and network requests after the page has loaded.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class CdpError(RuntimeError):
    """Chromium answered a command with an error, closed the pipe, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium executable: $PLANALIGN_CHROMIUM, else `chromium` / `chromium-browser` on PATH."""
    override = os.environ.get("PLANALIGN_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    """What happened while one page loaded: the events Chromium sent, grouped for assertions."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requested_urls: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


class Chromium:
    """One headless Chromium process driven over the DevTools pipe. Use as a context manager."""

    def __init__(self, executable: str, *, timeout_s: float = 60.0) -> None:
        self._executable = executable
        self._timeout_s = timeout_s
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._responses: dict[int, dict[str, Any]] = {}
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._profile = tempfile.TemporaryDirectory(prefix="planalign-chromium-")
        self._process: subprocess.Popen[bytes] | None = None
        self._write_fd = -1
        self._read_fd = -1
        self._reader: threading.Thread | None = None
        self._stderr_path = Path(self._profile.name) / "stderr.log"
        self.session_id: str | None = None

    def __enter__(self) -> Chromium:
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def place_pipes() -> None:
            # Chromium expects its command pipe on fd 3 and its reply pipe on fd 4. dup2 makes both
            # inheritable; every other descriptor Python opened is close-on-exec, so close_fds=False is safe
            # (and needed: subprocess would otherwise close 3 and 4 after this hook runs).
            # Moving both above 4 first keeps one from being overwritten by the other, and makes each dup2 a
            # real copy (dup2 of a descriptor onto itself would leave it close-on-exec).
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        stderr = self._stderr_path.open("wb")
        try:
            self._process = subprocess.Popen(
                [
                    self._executable,
                    *CHROMIUM_FLAGS,
                    "--remote-debugging-pipe",
                    f"--user-data-dir={self._profile.name}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=place_pipes,
                close_fds=False,
            )
        finally:
            stderr.close()
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._write_fd = to_browser_w
        self._read_fd = from_browser_r
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._process is not None and self._process.poll() is None:
                with contextlib.suppress(CdpError):  # the process is killed below if it does not exit
                    self.send("Browser.close", timeout_s=10)
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
        finally:
            for fd in (self._write_fd, self._read_fd):
                if fd >= 0:
                    os.close(fd)
            self._profile.cleanup()

    def stderr_tail(self, chars: int = 2000) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # --- transport -------------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._inbox.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._inbox.put(json.loads(raw))

    def _pump(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CdpError("timed out waiting for Chromium")
        try:
            message = self._inbox.get(timeout=remaining)
        except queue.Empty as exc:
            raise CdpError("timed out waiting for Chromium") from exc
        if message is None:
            raise CdpError(f"Chromium closed the DevTools pipe; stderr:\n{self.stderr_tail()}")
        if "id" in message:
            self._responses[int(message["id"])] = message
        else:
            self._events.append(message)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = False,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its result. `session=True` addresses the attached page."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            if self.session_id is None:
                raise CdpError("no page session attached")
            message["sessionId"] = self.session_id
        try:
            os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise CdpError(f"Chromium is gone ({exc}); stderr:\n{self.stderr_tail()}") from exc
        deadline = time.monotonic() + (timeout_s or self._timeout_s)
        while self._next_id not in self._responses:
            self._pump(deadline)
        response = self._responses.pop(self._next_id)
        if "error" in response:
            raise CdpError(f"{method} failed: {response['error']}")
        result: dict[str, Any] = response.get("result", {})
        return result

    def wait_for_event(
        self, method: str, *, since: int = 0, timeout_s: float | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout_s or self._timeout_s)
        while True:
            for event in self._events[since:]:
                if event.get("method") == method:
                    return event
            self._pump(deadline)

    # --- what the test needs ---------------------------------------------------------------------------

    def open_page(self, width: int, height: int) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})
        attached = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=True)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def load(self, url: str) -> PageLoad:
        """Navigate and wait for the load event; report what the page logged and requested meanwhile."""
        mark = len(self._events)
        self.send("Page.navigate", {"url": url}, session=True)
        self.wait_for_event("Page.loadEventFired", since=mark)
        # A round trip after the load event flushes console messages emitted during it.
        self.evaluate("document.readyState")
        load = PageLoad()
        for event in self._events[mark:]:
            method = event.get("method")
            params = event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
                load.console_errors.append(json.dumps(params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                load.exceptions.append(json.dumps(params.get("exceptionDetails", {})))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                load.log_errors.append(str(params["entry"].get("text")))
            elif method == "Network.requestWillBeSent":
                load.requested_urls.append(str(params.get("request", {}).get("url")))
            elif method == "Network.loadingFailed":
                load.failed_requests.append(json.dumps(params))
        return load

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"evaluation failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (not only the viewport)."""
        metrics = self.send("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            },
            session=True,
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
