"""The traffic split of one deployment generation, as a pure value shared by the local daemon and the Ray router.

Answering variants (primary, canary) split requests by weight; shadow variants get a mirrored copy of every request
and their answers are never returned. When every answering weight is 0 (a canary rolled back mid-edit) the
primary answers alone. The split is computed once per generation; ``pick`` is one random draw and a short scan.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..core.models import VariantRole

T = TypeVar("T")


@dataclass(frozen=True)
class TrafficSplit(Generic[T]):
    """Which items answer (with cumulative weights) and which are shadows; ``pick`` chooses the next answerer."""

    answering: tuple[T, ...]
    cumulative: tuple[int, ...]
    shadows: tuple[T, ...]

    @classmethod
    def of(cls, items: Iterable[T], role: Callable[[T], VariantRole], weight: Callable[[T], int]) -> TrafficSplit[T]:
        """The split of ``items`` given how to read each one's role and weight (percent)."""
        items = tuple(items)
        answering = tuple(i for i in items if role(i) != VariantRole.shadow and weight(i) > 0)
        if not answering:  # every weight 0: the primary answers (or the first variant)
            answering = tuple(i for i in items if role(i) == VariantRole.primary)[:1] or items[:1]
        total, cumulative = 0, []
        for item in answering:
            total += max(weight(item), 1 if len(answering) == 1 else 0)
            cumulative.append(total)
        shadows = tuple(i for i in items if role(i) == VariantRole.shadow)
        return cls(answering, tuple(cumulative), shadows)

    def pick(self, draw: float | None = None) -> T:
        """The item for the next request: a weighted choice (``draw`` in [0, 1) for tests, random otherwise)."""
        if len(self.answering) == 1:
            return self.answering[0]
        if not self.answering:
            raise LookupError("no variant takes traffic")
        point = (random.random() if draw is None else draw) * self.cumulative[-1]
        for item, bound in zip(self.answering, self.cumulative, strict=True):
            if point < bound:
                return item
        return self.answering[-1]
