"""Deployment settings from the command line: ``key=value`` words and flags into ``configure``'s arguments.

Shared by ``%deploy``/``%mlops settings`` and ``jupyter mlops deploy/settings`` so both doors accept the same
words. Dotted keys reach nested settings (``batching.max_batch_size=32``, ``monitoring.drift_share=0.3``,
``monitoring.thresholds.ks=0.01``); values are read as JSON when they parse (numbers, booleans, objects), else
as text; ``on``/``off`` are booleans. Values are checked by the facade, whose message names the bad field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..core.deployments.config import settings_changes

WORDS = {"on": True, "off": False, "yes": True, "no": False, "true": True, "false": False}
EXAMPLE = "timeout_ms=5000 max_rows=1000 auto_rollback=off monitoring.drift_share=0.3"


class SettingsSyntaxError(ValueError):
    """A ``key=value`` word that is not one (the message shows the expected form)."""


def value_of(text: str) -> Any:
    """A command-line value: on/off as booleans, JSON when it parses, else the text itself."""
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["max_rows=5", "batching.max_wait_ms=2"]`` -> ``{"max_rows": 5, "batching": {"max_wait_ms": 2}}``."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        path = key.strip().split(".")
        if not sep or not all(path):
            raise SettingsSyntaxError(f"{pair!r} is not KEY=VALUE: write settings as e.g. {EXAMPLE}.")
        node = changes
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SettingsSyntaxError(f"{key!r} sets inside {part!r}, which is already given a value.")
            node = child
        node[path[-1]] = value_of(raw.strip())
    return changes


def from_flags(
    pairs: Iterable[str] | None = None,
    *,
    timeout_ms: int | None = None,
    max_queue: int | None = None,
    max_rows: int | None = None,
    auto_rollback: str | None = None,
) -> dict[str, Any]:
    """Settings from ``--set KEY=VALUE`` words and the dedicated flags (flags win); ``{}`` when none given.

    Unknown names raise the facade's InvalidRequest (naming them and the settable ones); values are checked when
    the facade applies them.
    """
    changes = parse_pairs(pairs or [])
    flags = {"timeout_ms": timeout_ms, "max_queue": max_queue, "max_rows": max_rows}
    changes.update({key: value for key, value in flags.items() if value is not None})
    if auto_rollback is not None:
        changes["auto_rollback"] = value_of(auto_rollback)
    return settings_changes(changes)


def flatten(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as ``(dotted.key, value)`` rows, in the order the facade gives them."""
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            rows += flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows
