"""What crosses the wire between the remote client and the MLOps hub service: calls, results and errors.

One call is ``POST <service>/api/v1/call/<operation>`` with ``{"args": [...], "kwargs": {...}}``; the answer is
``{"result": ...}`` or, on a domain error, ``{"error_code", "message", ...}`` with the error's HTTP status. Results
are JSON; the client rebuilds the typed records from the facade Protocol's return annotations, so both sides agree
on one contract (``core/facade.py``). Framework-free: the client imports this without tornado.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from ..core import errors

# Facade operations the service runs for a caller. Everything else (close, internals) is refused. ``register`` as a
# call takes only a runs:/ or models:/ URI: a live model object never crosses the wire (unpickling it in the service
# would run user code there); the client saves and uploads it instead (``hub/upload.py``, ``hub/archive.py``).
OPERATIONS = frozenset(
    {
        "register",
        "models",
        "model",
        "versions",
        "version",
        "set_alias",
        "delete_alias",
        "deploy",
        "deployments",
        "deployment",
        "undeploy",
        "configure",
        "predict",
        "invoke",
        "set_traffic",
        "promote",
        "rollback",
        "sync",
        "events",
        "audit_events",
        "export_audit",
        "verify_audit",
        "served_at",
        "whoami",
        "request_approval",
        "approvals",
        "grant",
        "reject",
        "issue_token",
        "lineage",
        "card",
        "update_card",
        "monitor",
        "feedback",
        "alerts",
        "acknowledge_alert",
        "alert_rules",
        "health",
        *("inventory", "set_inventory", "validate_version", "validations", "check_reviews", "risk_summary"),
        *("set_retention", "inventory_report", "technical_documentation", "logging_evidence"),  # issue 17
    }
)
# Keyword arguments that would name the acting user: identity comes from the hub token, never from the caller.
IDENTITY_ARGUMENTS = frozenset({"actor", "user", "principal", "as_user", "owner_override"})

_ERRORS: dict[str, type[errors.MLOpsError]] = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.MLOpsError) and cls is not errors.ApprovalRequired
}


def encode(value: Any) -> Any:
    """A value as JSON data: pydantic records as their JSON form, frames in MLflow's ``split`` orientation."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    module = type(value).__module__
    if module.startswith("pandas"):
        if hasattr(value, "columns"):
            return {"__frame__": json.loads(value.to_json(orient="split", date_format="iso"))}
        return {"__series__": json.loads(value.to_json(orient="values"))}
    if module.startswith("numpy"):
        return value.tolist() if hasattr(value, "tolist") else value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if callable(getattr(value, "to_dict", None)):  # records wrapped for analysis (MonitoringReport): their JSON form
        return encode(value.to_dict())
    return json.loads(json.dumps(value, default=str))


def decode_argument(value: Any) -> Any:
    """The service side of ``encode`` for arguments: frames come back as pandas DataFrames."""
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        if set(value) == {"__frame__"}:
            import pandas as pd

            frame = value["__frame__"]
            return pd.DataFrame(frame["data"], columns=frame["columns"], index=frame.get("index"))
        if set(value) == {"__series__"}:
            import pandas as pd

            return pd.Series(value["__series__"])
        return {k: decode_argument(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_argument(v) for v in value]
    return value


def error_body(exc: errors.MLOpsError) -> dict[str, Any]:
    """The JSON body of a domain error (its code, its message, and an approval request to file when any)."""
    return exc.to_dict()


def raise_error(status: int, body: Any) -> None:
    """Raise the domain error a service answer stands for, with the service's message."""
    data = body if isinstance(body, dict) else {}
    message = str(data.get("message") or f"The MLOps service answered {status}.")
    code = str(data.get("error_code") or "")
    if code == errors.ApprovalRequired.code:
        raise errors.ApprovalRequired(message, data.get("approval_request") or {})
    cls = _ERRORS.get(code)
    if cls is None:
        cls = {400: errors.InvalidRequest, 403: errors.Forbidden, 404: errors.NotFound, 409: errors.Conflict}.get(
            status, errors.Unavailable if status >= 500 else errors.InvalidRequest
        )
    if status == 401:
        raise errors.Forbidden(message)
    raise cls(message)
