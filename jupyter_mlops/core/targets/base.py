"""The Target contract: where deployments run. Desired state lives in the Store; a target converges onto it.

The contract is a superset of ``mlflow.deployments.BaseDeploymentClient``: every method states its behaviour.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable

from ..errors import DeploymentFailed, NotFound, Unavailable
from ..models import DeploymentState, RuntimeStatus, VariantStatus

ProgressCallback = Callable[[RuntimeStatus], None]


def poll_until_ready(
    deployment_name: str,
    read_status: Callable[[], RuntimeStatus | None],
    wanted_generation: Callable[[], int | None],
    timeout: float,
    on_progress: ProgressCallback | None,
    *,
    what: str,
    hint: str = "",
    interval: float,
) -> RuntimeStatus:
    """``wait_ready`` for targets that can only be polled (Ray Serve, KServe).

    Return the status once the store's current generation is ready; raise DeploymentFailed when it (or a generation the
    target cannot name) failed, NotFound when the deployment is removed meanwhile, Unavailable after ``timeout``
    seconds. ``on_progress`` gets every status that differs from the previous one.
    """
    deadline = time.monotonic() + timeout
    last: RuntimeStatus | None = None
    while True:
        wanted = wanted_generation()
        if wanted is None:
            raise NotFound(f"Deployment {deployment_name!r} was removed while waiting for it.")
        status = read_status()
        if status is not None:
            if on_progress is not None and (last is None or status.model_dump() != last.model_dump()):
                on_progress(status)
            last = status
            if status.state == DeploymentState.ready and status.generation == wanted:
                return status
            if status.state == DeploymentState.failed and status.generation in (wanted, None):
                raise DeploymentFailed(f"{what} failed: {status.message}")
        if time.monotonic() > deadline:
            state = last.state.value if last else "unknown"
            raise Unavailable(f"{what} was not ready after {timeout:.0f} s (state: {state}){hint}.")
        time.sleep(interval)


class Target(abc.ABC):
    """A place where deployments run (the local serving daemon, Ray Serve, KServe)."""

    name: str = "abstract"

    @abc.abstractmethod
    def apply(self, deployment_name: str) -> RuntimeStatus:
        """Converge ``deployment_name`` onto its desired state in the Store.

        Returns at once (no waiting); the deployment then moves through loading -> warming -> ready (or failed). If the
        desired state is gone, the deployment is removed. Idempotent.
        """

    @abc.abstractmethod
    def remove(self, deployment_name: str) -> None:
        """Stop serving ``deployment_name``. Idempotent: removing an unknown deployment is not an error."""

    @abc.abstractmethod
    def status(self, deployment_name: str) -> RuntimeStatus | None:
        """The observed state of one deployment, or None when the target does not know it."""

    @abc.abstractmethod
    def statuses(self) -> dict[str, RuntimeStatus]:
        """Observed state of every deployment the target runs. Must not start anything."""

    @abc.abstractmethod
    def wait_ready(
        self, deployment_name: str, timeout: float, on_progress: ProgressCallback | None = None
    ) -> RuntimeStatus:
        """Block until the deployment's current generation is ready or failed.

        Call ``on_progress`` whenever the status changes. Raises DeploymentFailed (naming the failed step) or
        Unavailable on timeout.
        """

    @abc.abstractmethod
    def invoke(self, deployment_name: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        """Send one scoring request to the deployment's endpoint; returns (status, headers, body) as given."""

    # --- traffic (canary, shadow, promote, rollback) -------------------------------------------------------

    def apply_traffic(self, deployment_name: str) -> RuntimeStatus:
        """Converge the deployment's variants (pinned versions, weights, roles) onto the Store after a rollout step.

        Returns at once, like ``apply``. Behaviour every target must keep:

        * zero downtime: the previous split answers until the new one is live (no non-2xx in between);
        * answering variants (primary, canary) share requests in proportion to their weights (summing to 100);
          a variant at weight 0 gets no requests but stays loaded (promote and rollback must not reload);
        * a shadow variant gets a mirrored copy of every request; its answers are recorded, never returned;
        * the answer names the variant that produced it (``X-MLOps-Variant`` header, or the platform's own).

        The default is ``apply`` (a target whose ``apply`` already converges variants needs nothing more).
        """
        return self.apply(deployment_name)

    def variant_statuses(self, deployment_name: str) -> list[VariantStatus]:
        """Observed state of each variant (name, model URI, state, message), in the Store's order.

        [] when the target does not know the deployment.
        """
        status = self.status(deployment_name)
        return list(status.variants) if status is not None else []

    def credentials_changed(self, deployment_name: str) -> None:  # noqa: B027 - optional hook
        """Make a just-committed token change of ``deployment_name`` effective before returning (no-op by default)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections; never stops serving."""
