"""Adaptive micro-batching: concurrent requests to one variant are merged into one model call.

No timer on the quiet path: a request that finds the model idle is predicted at once (no added latency at
concurrency 1). Requests that arrive while a call is running queue up and go together in the next call, up to
``max_batch_size`` rows; only when the previous call was itself a batch does the next one wait up to
``max_wait_ms`` for more company. Results are split back by row counts, so each caller gets exactly what an
unbatched call would have returned. If a batched call fails, its requests are retried one by one, so one bad
request never fails its neighbours; a model whose output does not have one row per input row is not row-wise,
and batching switches itself off for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

log = logging.getLogger(__name__)


class NotRowWise(Exception):
    """The model's output for a batch does not have one entry per input row."""


def split(predictions: Any, sizes: list[int]) -> list[Any]:
    """Cut batched predictions back into per-request parts (arrays, series, frames, lists)."""
    total = sum(sizes)
    if len(predictions) != total:
        raise NotRowWise(f"{len(predictions)} predictions for {total} rows")
    parts, start = [], 0
    for size in sizes:
        if hasattr(predictions, "iloc"):
            part = predictions.iloc[start : start + size]
            part = part.reset_index(drop=True)
        else:
            part = predictions[start : start + size]
        parts.append(part)
        start += size
    return parts


class MicroBatcher:
    """Merges concurrent DataFrame inputs of one served variant into single ``predict`` calls."""

    def __init__(
        self,
        predict: Callable[[Any, bool], Any],
        pool: Executor,
        *,
        max_batch_size: int,
        max_wait_ms: float,
        observe: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self._predict = predict
        self._pool = pool
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self._observe = observe
        self._queue: deque[tuple[Any, bool, asyncio.Future[Any]]] = deque()
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self.enabled = True

    async def submit(self, frame: Any, fast: bool = False) -> Any:
        """Predictions for ``frame``, computed alone or together with concurrent requests of the same kind
        (``fast``: already checked against the signature; such frames are never merged with unchecked ones)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((frame, fast, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())  # referenced, so it is not garbage-collected mid-run
        return await future

    def _take(self) -> list[tuple[Any, bool, asyncio.Future[Any]]]:
        batch: list[tuple[Any, bool, asyncio.Future[Any]]] = []
        rows = 0
        while self._queue:
            size, fast = len(self._queue[0][0]), self._queue[0][1]
            if batch and (rows + size > self.max_batch_size or fast != batch[0][1]):
                break
            batch.append(self._queue.popleft())
            rows += size
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        previous = 1
        try:
            while self._queue:
                if previous > 1 and self.max_wait > 0 and self._rows() < self.max_batch_size:
                    await asyncio.sleep(self.max_wait)  # under concurrency: let the next arrivals join
                batch = self._take()
                previous = len(batch)
                frames = [frame for frame, _, _ in batch]
                fast = batch[0][1]
                try:
                    parts = await loop.run_in_executor(self._pool, self._call, frames, fast)
                except Exception as exc:
                    if len(batch) == 1:
                        _set(batch[0][2], exception=exc)
                        continue
                    if isinstance(exc, NotRowWise):
                        log.warning("Micro-batching off for a model that is not row-wise (%s)", exc)
                        self.enabled = False
                    for frame, _, future in batch:  # one by one, so only the bad request fails
                        try:
                            result = await loop.run_in_executor(self._pool, self._predict, frame, fast)
                        except Exception as single:
                            _set(future, exception=single)
                        else:
                            _set(future, result=result)
                    continue
                for (_, _, future), part in zip(batch, parts, strict=True):
                    _set(future, result=part)
        finally:
            self._running = False

    def _rows(self) -> int:
        return sum(len(frame) for frame, _, _ in self._queue)

    def _call(self, frames: list[Any], fast: bool) -> list[Any]:
        if len(frames) == 1:
            self._observe(len(frames[0]))
            return [self._predict(frames[0], fast)]
        import pandas as pd

        merged = pd.concat(frames, ignore_index=True)
        self._observe(len(merged))
        return split(self._predict(merged, fast), [len(frame) for frame in frames])


def _set(future: asyncio.Future[Any], *, result: Any = None, exception: BaseException | None = None) -> None:
    if future.done():  # the caller timed out and went away
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
