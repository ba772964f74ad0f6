"""The Host header allow-list of the serving daemon: the DNS-rebinding defence, as ASGI middleware.

A web page the user visits may resolve its own name to 127.0.0.1 and then read the daemon's answers as same-origin;
answering only for loopback names and configured hosts closes that. Kept out of ``app`` so the routes module stays
about routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.errors import InvalidRequest, MLOpsError


class MisdirectedRequest(MLOpsError):
    """The Host header names a host this daemon does not serve (DNS rebinding defence)."""

    status = 421
    code = "MISDIRECTED_REQUEST"


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def host_name(value: str) -> str:
    """The host part of a Host header (no port, lower case, IPv6 brackets removed)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostAllowList:
    """ASGI middleware: answer only requests whose Host header names this daemon (DNS-rebinding defence).

    Allowed: loopback names and addresses, and ``allowed`` (the configured serving host and
    ``$JUPYTER_MLOPS_SERVING_ALLOWED_HOSTS``). Another host gets 421, a missing Host header 400; both are counted
    in ``mlops_refused_requests``.
    """

    def __init__(self, app: Any, allowed: frozenset[str], refuse: Callable[[MLOpsError, str], Any]) -> None:
        self.app = app
        self.refuse = refuse  # the daemon's one refusal path (counted in mlops_refused_requests)
        self.allowed = LOOPBACK_NAMES | {host_name(h) for h in allowed if h}
        self._seen: dict[bytes, bool] = {}  # Host header value -> verdict (bounded below)

    def permits(self, raw: bytes) -> bool:
        """Whether a Host header value names an allowed host (cached per distinct value)."""
        verdict = self._seen.get(raw)
        if verdict is None:
            name = host_name(raw.decode("latin-1"))
            verdict = name in self.allowed or (name.startswith("127.") and name.replace(".", "").isdigit())
            if len(self._seen) < 1024:
                self._seen[raw] = verdict
        return verdict

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raw = next((value for key, value in scope["headers"] if key == b"host"), None)
            if raw is None or not self.permits(raw):
                exc: MLOpsError = (
                    InvalidRequest("A Host header is required.")
                    if raw is None
                    else MisdirectedRequest(
                        f"This serving daemon does not answer for host {raw.decode('latin-1')[:100]!r}. Call it on "
                        "127.0.0.1 or localhost, or add the name to $JUPYTER_MLOPS_SERVING_ALLOWED_HOSTS."
                    )
                )
                await self.refuse(exc, "host")(scope, receive, send)
                return
        await self.app(scope, receive, send)
