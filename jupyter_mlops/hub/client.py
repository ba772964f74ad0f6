"""The remote facade: the MLOps interface (``core.facade.MLOpsAPI``) as an HTTP client of the MLOps hub service.

In team mode a user's kernels and server hold no store credentials: every operation is a call to the service,
authenticated with the user's own hub token (``JUPYTERHUB_API_TOKEN``, which JupyterHub gives every single-user
server and its kernels). The service takes the acting user from that token, so nothing here can choose who acts.
Results come back as the same typed records as the embedded facade's, rebuilt from the Protocol's annotations;
domain errors come back as the same ``MLOpsError`` subclasses with the service's message. When the service is
down, every call raises ``Unavailable`` with a message that says so (no traceback in magics or REST).

Only httpx and pydantic: importable in a kernel without tornado or jupyterhub.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from ..core.errors import Forbidden, InvalidRequest, Unavailable
from ..core.facade import MLOpsAPI
from ..core.models import ModelVersion
from ..core.principal import Principal
from . import wire


@functools.cache
def _adapter(operation: str) -> TypeAdapter[Any] | None:
    """How to rebuild the result of ``operation`` (None: keep the JSON as it came)."""
    method = getattr(MLOpsAPI, operation)
    returned = method.__annotations__.get("return")
    if isinstance(returned, str):  # postponed annotation: evaluate the return type only, in the Protocol's module
        try:
            returned = eval(returned, vars(sys.modules[method.__module__]))  # noqa: S307 - our own annotation text
        except NameError:  # a type named only for type checkers (kept out of the kernel's imports): plain JSON
            return None
    if returned is None or returned is Any or returned is type(None):
        return None
    return TypeAdapter(returned)


class RemoteMLOps:
    """``MLOpsAPI`` over HTTP: each method is one ``POST <service>/api/v1/call/<operation>``."""

    def __init__(
        self,
        service_url: str,
        token: str | None = None,
        *,
        timeout: float = 120.0,
        parity_rows: int = 100,
        max_upload_bytes: int = 0,
    ) -> None:
        if not service_url:
            raise InvalidRequest("No MLOps service URL: set c.MLOpsConfig.service_url (JUPYTER_MLOPS_SERVICE_URL).")
        self.service_url = service_url.rstrip("/") + "/"
        self._token = token if token is not None else os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self._http = httpx.Client(timeout=timeout, trust_env=False)
        self.parity_rows = parity_rows  # training rows sent for the deploy-time parity gate (0 = none)
        self.max_upload_bytes = max_upload_bytes  # checked before uploading, when known (0: the service decides)

    @classmethod
    def from_config(cls, config: Any) -> RemoteMLOps:
        """The client a kernel or server builds from its settings (``service_url``, ``service_timeout``)."""
        return cls(
            config.service_url,
            timeout=float(config.service_timeout),
            parity_rows=int(getattr(config, "parity_sample_rows", 100)),
        )

    def _headers(self) -> dict[str, str]:
        if not self._token:
            raise Forbidden(
                "No hub token: team mode acts through the MLOps service with JUPYTERHUB_API_TOKEN, which only "
                "servers and kernels started by JupyterHub have."
            )
        return {"Authorization": f"token {self._token}"}

    def _request(
        self, method: str, path: str, json: Any = None, *, content: Any = None, content_type: str | None = None
    ) -> Any:
        url = self.service_url + path
        headers = self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self._http.request(method, url, json=json, content=content, headers=headers)
        except httpx.TimeoutException:
            raise Unavailable(
                f"The MLOps service at {self.service_url} did not answer in time. The change may still complete: "
                "check with deployments() before retrying."
            ) from None
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"The MLOps service at {self.service_url} is not answering ({type(exc).__name__}). Nothing was "
                "changed; deployments keep serving. Try again shortly or ask a hub admin to check the service."
            ) from None
        try:
            body = response.json()
        except ValueError:  # not the service: the hub's proxy answering for a service that is down
            body = None
        if response.status_code >= 400:
            if body is None:
                if response.status_code in (502, 503, 504):
                    raise Unavailable(
                        f"The MLOps service at {self.service_url} is not answering (the hub's proxy answered "
                        f"{response.status_code}). Nothing was changed; deployments keep serving. Try again shortly "
                        "or ask a hub admin to check the service."
                    )
                body = {"message": f"The MLOps service answered {response.status_code} without a message."}
            wire.raise_error(response.status_code, body)
        return body

    def _call_json(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        body = self._request(
            "POST", f"api/v1/call/{operation}", {"args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)}
        )
        return body.get("result") if isinstance(body, dict) else None

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Run one facade operation in the service as the token's user and rebuild its typed result."""
        result = self._call_json(operation, *args, **kwargs)
        if isinstance(result, dict) and "__bytes__" in result:  # a report (PDF, CSV) crosses the wire as base64
            result = wire.decode_argument(result)
        adapter = _adapter(operation)
        return adapter.validate_python(result) if adapter is not None and result is not None else result

    @property
    def principal(self) -> Principal:
        """The hub user this client acts as: the owner of the token (its server's ``JUPYTERHUB_USER``).

        Local, without a call: the service decides from the token itself (``whoami()`` asks it, with the role).
        """
        return Principal.current()

    def invoke(
        self, name: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send a raw scoring request to a deployment through the service (the sidebar's predict route)."""
        status, headers, answer = self._call_json("invoke", name, body, content_type)
        return int(status), dict(headers), wire.decode_argument(answer)

    def monitor(self, name: str, window: str | float = "1h") -> Any:
        """The deployment's monitoring over ``window``, as the same ``MonitoringReport`` the embedded facade gives."""
        from ..core.monitoring.report import MonitoringReport

        return MonitoringReport(self._call_json("monitor", name, window))

    def acting_as(self, principal: Any) -> RemoteMLOps:
        """This client, when ``principal`` is the token's owner; anyone else is refused.

        A user's server forwards with its owner's token, so it can act only for its owner: another hub user who
        reaches this server (shared access) must use their own server and token.
        """
        owner = os.environ.get("JUPYTERHUB_USER")
        name = getattr(principal, "name", principal)
        if owner and name != owner:
            raise Forbidden(
                f"{name!r} is using {owner!r}'s server: in team mode it acts only for {owner!r} (its hub token). "
                f"Use your own server to act as {name!r}."
            )
        return self

    def register(
        self,
        model: Any,
        name: str,
        X: Any = None,
        y: Any = None,
        *,
        alias: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        notebook: str | None = None,
        reference: Any = None,
    ) -> ModelVersion:
        """Register ``model`` as a new version of ``name``, owned by the token's user.

        A ``runs:/`` or ``models:/`` URI the service can read is registered by the service. A model object is saved
        here as an MLflow model (signature and example from ``X``; baseline, parity sample and lineage computed
        here, as the embedded register does), packed and uploaded; the service checks the files without loading
        them and registers them as a new MLflow run's model. A labelled ``reference=(X_ref, y_ref)`` travels with
        either and is checked again by the service against the registered model's signature.
        """
        from ..core import validation
        from . import upload

        name = validation.model_name(name)
        if isinstance(model, str):
            extra = {} if reference is None else {"reference": reference}  # services before reference sets work on
            return self.call(
                "register", model, name, alias=alias, description=description, tags=tags, notebook=notebook, **extra
            )
        with upload.temporary_folder() as tmp:
            packed = upload.pack(
                model, X, y, Path(tmp), parity_rows=self.parity_rows, params=params, metrics=metrics, tags=tags,
                description=description, alias=alias, notebook=notebook, user=self.principal.name,
                reference=upload.reference_table(X, reference),
            )  # fmt: skip
            size = packed.stat().st_size
            if self.max_upload_bytes and size > self.max_upload_bytes:
                raise InvalidRequest(
                    f"The packed model is {size / 1e6:.0f} MB, more than the {self.max_upload_bytes / 1e6:.0f} MB "
                    "the MLOps service accepts: register a smaller model or ask a hub admin to raise the limit."
                )
            with packed.open("rb") as body:
                answer = self._request(
                    "POST", f"api/v1/models/{quote(name, safe='')}/versions", content=body,
                    content_type="application/gzip",
                )  # fmt: skip
        return ModelVersion.model_validate(answer["result"])

    def close(self) -> None:
        """Close the HTTP connection pool (the service and its deployments are untouched)."""
        self._http.close()


def _operation(name: str) -> Any:
    protocol_method = getattr(MLOpsAPI, name)

    def method(self: RemoteMLOps, *args: Any, **kwargs: Any) -> Any:
        return self.call(name, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"RemoteMLOps.{name}"
    method.__doc__ = protocol_method.__doc__
    method.__signature__ = inspect.signature(protocol_method)  # type: ignore[attr-defined]
    return method


for _name in sorted(wire.OPERATIONS - {"invoke", "monitor", "register"}):
    setattr(RemoteMLOps, _name, _operation(_name))
