"""Without Chromium, the browser test must fail under CI (so a green CI means the report was seen rendered)
and may only be skipped on a developer's machine."""

from __future__ import annotations

import pytest

from . import browser_support


def test_missing_chromium_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_support, "find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        browser_support.chromium_or_skip()


def test_missing_chromium_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_support, "find_chromium", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser_support.chromium_or_skip()


def test_present_chromium_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_support, "find_chromium", lambda: "/opt/chromium")
    monkeypatch.setenv("CI", "true")
    assert browser_support.chromium_or_skip() == "/opt/chromium"
