"""What both browser tests share: find Chromium (fail under CI, skip elsewhere), render a report file once
in headless Chromium, and read colours off its screenshot."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .chromium_cdp import Chromium, PageLoad, find_chromium

VIEWPORT = (1400, 1000)


@dataclass(frozen=True)
class Rendered:
    load: PageLoad
    page: dict[str, Any]
    screenshot: Path


def chromium_or_skip() -> str:
    executable = find_chromium()
    if executable is not None:
        return executable
    message = (
        "headless Chromium is needed for the report's browser test and was not found "
        "(install Debian's `chromium` package, e.g. `apt-get install -y chromium`, or set PLANALIGN_CHROMIUM)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def render(
    report: Path,
    inspect: str,
    screenshot: Path,
    *,
    keep_env: str,
    viewport: tuple[int, int] = VIEWPORT,
) -> Rendered:
    """Load `report` from disk in a window of `viewport` (width, height), evaluate the `inspect` script on
    it and take a screenshot; the environment variable `keep_env`, when set, names a path to keep the
    screenshot at."""
    with Chromium(chromium_or_skip()) as browser:
        browser.open_page(*viewport)
        load = browser.load(report.resolve().as_uri())
        page = browser.evaluate(inspect)
        browser.screenshot(screenshot)
    keep = os.environ.get(keep_env)
    if keep:
        shutil.copyfile(screenshot, keep)
    return Rendered(load=load, page=page, screenshot=screenshot)


def pixel_counts(image: Image.Image) -> dict[tuple[int, ...], int]:
    """Pixel count per colour (getcolors needs an upper bound on distinct colours)."""
    width, height = image.size
    colours = image.getcolors(maxcolors=width * height) or []
    return {colour: count for count, colour in colours if isinstance(colour, tuple)}  # RGB: always tuples


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))
