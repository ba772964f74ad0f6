"""Even out keep-alive connections over the serving workers that share the daemon's port.

The workers accept from one listening socket, and the one that wakes first accepts everything pending: a client
that opens its pool at once (a load balancer, ``wrk -c32``) can leave 24 connections on one worker and 8 on the
other, so half the requests wait three times longer than the rest (measured: splits of 24/8 to 19/13 at c=32).
Each worker publishes how many connections it holds in a small shared file (one 8-byte slot per worker) and reads
the others'. A worker holding more than its even share (rounded up) answers that many of its next scoring requests
with ``Connection: close``: the client reconnects, and the new connection goes to whichever worker accepts it,
most likely the one with less to do. A complete response is never cut; only the idle connection after it moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path

INTERVAL = 0.1  # seconds between two reads of the workers' counts
FILE_NAME = "connections.bin"
_SLOT = struct.Struct("<q")


class ConnectionBalance:
    """This worker's side: publish its connection count, and how many connections it should let go now."""

    def __init__(self, folder: Path, index: int, workers: int, connections: Callable[[], int]) -> None:
        self.index, self.workers = index, workers
        self._connections = connections
        self._budget = 0
        self.rebalanced = 0  # connections this worker let go (a counter for /metrics)
        self._map: mmap.mmap | None = None
        if workers > 1:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                size = workers * _SLOT.size
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)  # zeros: a worker not started yet holds nothing
                self._map = mmap.mmap(fd, size)
            finally:
                os.close(fd)

    def counts(self) -> list[int]:
        """Every worker's last published count (a dead worker's stays until its replacement writes its own)."""
        if self._map is None:
            return [self._connections()]
        return [max(0, _SLOT.unpack_from(self._map, i * _SLOT.size)[0]) for i in range(self.workers)]

    def update(self) -> int:
        """Publish this worker's count and set how many connections it lets go before the next update."""
        if self._map is None:
            return 0
        mine = self._connections()
        _SLOT.pack_into(self._map, self.index * _SLOT.size, mine)
        share = math.ceil(sum(self.counts()) / self.workers)
        self._budget = max(0, mine - share)  # an odd total rounds the share up: no churn
        return self._budget

    def let_go(self) -> bool:
        """Whether this response should close its connection (on the hot path: one comparison when balanced)."""
        if self._budget <= 0:
            return False
        self._budget -= 1
        self.rebalanced += 1
        return True

    async def run(self) -> None:
        """Update every ``INTERVAL`` until cancelled."""
        if self._map is None:
            return
        while True:
            self.update()
            await asyncio.sleep(INTERVAL)

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(ValueError, OSError):
                _SLOT.pack_into(self._map, self.index * _SLOT.size, 0)
                self._map.close()
            self._map = None
