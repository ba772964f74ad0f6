"""Waiting in tests: on a condition with a deadline, never on a fixed sleep.

A sleep is either too short on a busy machine (a flaky test) or too long everywhere (a slow suite). Every test
waits through these helpers instead:

- ``wait_until(condition)`` polls until the condition holds and returns its value, or fails at the deadline;
- ``await_until(condition)`` is the same inside ``async def`` tests (the event loop keeps running);
- ``holds_for(condition, seconds)`` is the one negative check that needs a time window ("nothing else happens
  for a while"): it polls the condition and fails the moment it turns false.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Message = str | Callable[[], str]


def _text(message: Message) -> str:
    return message() if callable(message) else message


def wait_until(
    condition: Callable[[], T],
    timeout: float = 30.0,
    message: Message = "condition",
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``condition`` until it returns a truthy value, and return that value.

    Args:
        condition: Called every ``interval`` seconds; it may itself fail the test (e.g. when a process exited).
        timeout: Seconds before the test fails.
        message: What was awaited (or a callable giving it, e.g. the tail of a log), shown when it times out.
        interval: Seconds between polls.
        ignore: Exceptions that mean "not yet" (e.g. ``httpx.TransportError`` while a server starts).

    Returns:
        The first truthy value of ``condition``.

    Raises:
        AssertionError: When the deadline passes first.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except ignore:
            pass  # not yet: poll again
        if time.monotonic() >= deadline:
            raise AssertionError(f"{_text(message)}: not met within {timeout:g} s")
        time.sleep(interval)


async def await_until(
    condition: Callable[[], Awaitable[T]],
    timeout: float = 30.0,
    message: Message = "condition",
    interval: float = 0.05,
) -> T:
    """``wait_until`` for async tests: awaits ``condition()`` until it is truthy, letting the event loop run.

    Raises:
        AssertionError: When the deadline passes first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{_text(message)}: not met within {timeout:g} s")
        await asyncio.sleep(interval)


def holds_for(
    condition: Callable[[], object], seconds: float, message: Message = "condition", interval: float = 0.05
) -> None:
    """Check that ``condition`` stays true for ``seconds``: for negative checks that need a time window.

    Only for "nothing (more) happens" checks, where no event can be awaited; it fails as soon as the condition
    turns false, so a regression is reported at once rather than after the window.

    Raises:
        AssertionError: The first time ``condition`` is false.
    """
    end = time.monotonic() + seconds
    while True:
        if not condition():
            raise AssertionError(f"{_text(message)}: stopped holding within {seconds:g} s")
        if time.monotonic() >= end:
            return
        time.sleep(interval)
