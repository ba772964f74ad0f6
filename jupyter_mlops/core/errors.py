"""One family of domain errors; each door maps them to its own medium exactly once.

Every error carries an HTTP status and a message written for the person who made the request: what was wrong
and how to fix it. Messages never include the request payload or a traceback.
"""

from __future__ import annotations

from typing import Any


class MLOpsError(Exception):
    """Base of all domain errors. ``status`` is the HTTP status a REST door answers with."""

    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON body: its code and message."""
        return {"error_code": self.code, "message": self.message}


class InvalidRequest(MLOpsError):
    """The caller sent something we cannot act on (bad name, bad reference, bad payload)."""

    status = 400
    code = "INVALID_REQUEST"


class Forbidden(MLOpsError):
    """The principal may not do this (role, ownership or a missing approval); recorded in the ledger."""

    status = 403
    code = "FORBIDDEN"


class ApprovalRequired(Forbidden):
    """A protected change without a granted approval.

    ``request`` is the approval request that would allow it (``{"action", "target", "payload"}``), so a door can offer
    to file it in one click.
    """

    code = "APPROVAL_REQUIRED"

    def __init__(self, message: str, request: dict[str, Any]) -> None:
        super().__init__(message)
        self.request = request

    def to_dict(self) -> dict[str, Any]:
        """The error body with the approval request that would allow the change."""
        return {**super().to_dict(), "approval_request": self.request}


class NotFound(MLOpsError):
    """The named model, version, deployment, alert or approval does not exist."""

    status = 404
    code = "NOT_FOUND"


class Conflict(MLOpsError):
    """The request contradicts the current state (already decided, changed meanwhile, ...)."""

    status = 409
    code = "CONFLICT"


class UnsupportedMediaType(MLOpsError):
    """The body's content type is not one the endpoint reads."""

    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unavailable(MLOpsError):
    """A dependency (serving daemon, MLflow server) is not reachable or not ready yet."""

    status = 503
    code = "UNAVAILABLE"


class DeploymentFailed(MLOpsError):
    """A deployment could not reach ``ready``; the message names the failing step and its cause."""

    status = 422
    code = "DEPLOYMENT_FAILED"
