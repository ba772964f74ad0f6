"""The MLOps hub service's HTTP door: HubAuth on every call, the caller's principal from their hub token.

The service is the only process with the store's credentials. Each request presents a hub API token
(``Authorization: token ...``, e.g. a single-user server's or kernel's ``JUPYTERHUB_API_TOKEN``); the hub tells
the service whose it is and which scopes it carries. The call then runs on ``mlops.acting_as(principal)``: the
caller cannot choose who acts. Roles come from the hub's custom scopes (``custom:mlops:deploy|approve|admin``,
granted through hub roles and groups), resolved in core governance.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

from ..core.errors import InvalidRequest, MLOpsError
from ..core.principal import Principal
from . import archive, wire

log = logging.getLogger(__name__)

SCOPE_PREFIX = "custom:mlops:"
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a packed model; ``--max-upload-mb`` changes it
UPLOAD_SLACK_BYTES = 16 * 1024 * 1024  # read and dropped past the cap before the connection is cut


def access_scope(service_name: str) -> str:
    """The hub scope a token needs to reach this service at all."""
    return f"access:services!service={service_name}"


class Refused(Exception):
    """An HTTP refusal with a message for the caller (401 unauthenticated, 403 not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HubDoor:
    """Authenticates callers with the hub and runs their calls on the shared facade, off the event loop."""

    def __init__(
        self,
        mlops: Any,
        hub_auth: HubAuth,
        service_name: str,
        executor: ThreadPoolExecutor,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        allow_kernel_registration: bool = False,
    ) -> None:
        self.mlops = mlops
        self.allow_kernel_registration = allow_kernel_registration
        self.hub_auth = hub_auth
        self.service_name = service_name
        self.executor = executor
        self.max_upload_bytes = max_upload_bytes

    async def principal(self, request: Any) -> Principal:
        """The caller as the hub knows them, or Refused (401: no/unknown token, 403: token not for us)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            raise Refused(
                401,
                "No hub token: send 'Authorization: token <JUPYTERHUB_API_TOKEN>' (every single-user server and "
                "kernel has one in its environment).",
            )
        try:
            model = await self.hub_auth.user_for_token(token.strip(), use_cache=True, sync=False)
        except Exception as exc:  # the hub itself is down or refused us
            log.warning("hub token check failed: %s", exc)
            raise Refused(503, "The hub could not check this token right now; try again shortly.") from None
        if not model:
            raise Refused(401, "The hub does not know this token: it is invalid, expired or revoked. Log in again.")
        if model.get("kind", "user") != "user":
            raise Refused(403, f"A {model.get('kind')} token cannot act on MLOps: use a user's hub token.")
        scopes = set(model.get("scopes") or ())
        needed = access_scope(self.service_name)
        if needed not in scopes and "access:services" not in scopes:
            raise Refused(
                403,
                f"This token of {model.get('name')!r} lacks the {needed} scope: it was issued for something else. "
                "Use the server's JUPYTERHUB_API_TOKEN, or ask a hub admin to add the scope to the server role.",
            )
        return Principal(
            name=str(model["name"]),
            groups=tuple(model.get("groups") or ()),
            scopes=frozenset(s for s in scopes if s.startswith(SCOPE_PREFIX)),
        )

    def view_for(self, principal: Principal) -> Any:
        """The facade acting as ``principal`` and owning what it creates.

        The service acts for many users: unlike a user's own server (where the server's user owns everything made
        there), here each caller owns the deployments and requests they create.
        """
        return self.mlops.acting_as(principal, owner=principal.name)

    async def run(self, principal: Principal, operation: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run one facade operation as ``principal``; identity arguments are refused and recorded."""
        if operation not in wire.OPERATIONS:
            raise InvalidRequest(
                f"Unknown operation {operation!r}: the service offers {', '.join(sorted(wire.OPERATIONS))}."
            )
        if operation == "register":
            self.check_registration()
        if operation == "register" and not (args and isinstance(args[0], str)):
            raise InvalidRequest(
                "register through a call takes a runs:/ or models:/ URI the service can read; a model object is "
                "saved and uploaded by the client (POST api/v1/models/<name>/versions with the packed model)."
            )
        method = getattr(self.view_for(principal), operation)
        # A keyword naming a user that the operation does not take as a filter is an attempt to act as them.
        claimed = sorted((set(kwargs) & wire.IDENTITY_ARGUMENTS) - set(inspect.signature(method).parameters))
        if claimed:
            detail = (
                f"{principal.name!r} tried to choose the acting user ({claimed[0]}={kwargs[claimed[0]]!r}) in "
                f"{operation}: identity comes from the hub token."
            )
            await self._in_thread(
                self.mlops.audit.record, operation, principal.name, None, f"service/{operation}", outcome="refused",
                detail=detail,
            )  # fmt: skip
            raise Refused(403, detail + " The attempt was recorded in the audit ledger.")
        try:
            inspect.signature(method).bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidRequest(f"Bad arguments for {operation}: {exc}.") from None
        args = [wire.decode_argument(a) for a in args]
        kwargs = {k: wire.decode_argument(v) for k, v in kwargs.items()}
        return await self._in_thread(method, *args, **kwargs)

    def check_registration(self) -> None:
        """Refuse registration by users unless the service was started with ``--allow-kernel-registration``.

        A registered model is code, and the service's serving workers still hold the store's connection settings
        (README, Team mode): until they do not, running users' code there is a choice a hub admin makes, not a default.
        """
        if not self.allow_kernel_registration:
            raise Refused(
                403,
                "Registering models from notebooks is off on this MLOps service: a model is code, and it would run in "
                "the service's serving workers. Ask the platform team to register it, or a hub admin to start the "
                "service with --allow-kernel-registration (README, Team mode).",
            )

    async def register_upload(self, principal: Principal, name: str, upload: str) -> Any:
        """Check the uploaded archive (never loading it) and register it as a new version owned by ``principal``."""

        def work() -> Any:
            folder = tempfile.mkdtemp(prefix="mlops-model-")
            try:
                meta = archive.unpack(Path(upload), Path(folder) / "model", self.max_upload_bytes)
                return archive.register_archive(self.view_for(principal), name, Path(folder) / "model", meta)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return await self._in_thread(work)

    async def _in_thread(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


class BaseHandler(web.RequestHandler):
    """JSON answers, one error mapping: domain errors keep their status and message, nothing leaks a traceback."""

    def initialize(self, door: HubDoor) -> None:
        self.door = door

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:  # token-authenticated API: no cookies are accepted
        return

    def answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        if status_code >= 500 and not isinstance(exc, web.HTTPError):
            message = "The MLOps service failed on this request; its log has the details."
        self.finish(json.dumps({"error_code": "ERROR", "message": message}))


class CallHandler(BaseHandler):
    """``POST api/v1/call/<operation>``: one facade operation as the token's user."""

    async def post(self, operation: str) -> None:
        try:
            principal = await self.door.principal(self.request)
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError:
                raise InvalidRequest("The request body is not JSON: send {'args': [...], 'kwargs': {...}}.") from None
            if not isinstance(body, dict) or not isinstance(body.get("args", []), list):
                raise InvalidRequest("The request body must be {'args': [...], 'kwargs': {...}}.")
            kwargs = body.get("kwargs") or {}
            if not isinstance(kwargs, dict):
                raise InvalidRequest("'kwargs' must be an object.")
            result = await self.door.run(principal, operation, body.get("args") or [], kwargs)
        except Refused as exc:
            self.answer(exc.status, {"error_code": "UNAUTHORIZED" if exc.status == 401 else "FORBIDDEN",
                                     "message": exc.message})  # fmt: skip
            return
        except MLOpsError as exc:
            self.answer(exc.status, wire.error_body(exc))
            return
        self.answer(200, {"result": wire.encode(result)})


@web.stream_request_body
class UploadHandler(BaseHandler):
    """``POST api/v1/models/<name>/versions``: a packed MLflow model (tar.gz) from a kernel, registered as the caller.

    The body is streamed to a private temporary file and capped (413 past ``max_upload_bytes``); the token is
    checked before a byte of it is read. The service checks the archive as files and never loads the model.
    """

    principal: Principal | None = None
    refusal: tuple[int, dict[str, Any]] | None = None

    async def prepare(self) -> None:
        """Authenticate before reading the body; refuse a declared length past the cap; open the spool file."""
        self.received = 0
        self.spool: Any = None
        if self.request.method != "POST":
            return
        cap = self.door.max_upload_bytes
        # past the cap the body is read and dropped (so the client gets its 413); far past it the connection is cut
        self.request.connection.set_max_body_size(cap + UPLOAD_SLACK_BYTES)  # type: ignore[union-attr]
        try:
            self.principal = await self.door.principal(self.request)
            self.door.check_registration()
        except Refused as exc:
            self.refusal = (exc.status, {"error_code": "UNAUTHORIZED" if exc.status == 401 else "FORBIDDEN",
                                         "message": exc.message})  # fmt: skip
            self.answer(*self.refusal)
            return
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            self._too_large(cap)
            return
        self.spool = tempfile.NamedTemporaryFile(prefix="mlops-upload-", suffix=".tar.gz", delete=False)  # noqa: SIM115

    def _too_large(self, cap: int, *, now: bool = True) -> None:
        message = (
            f"The model archive is larger than the service accepts ({cap // (1024 * 1024)} MB): register a smaller "
            "model, or ask a hub admin to raise the limit (python -m jupyter_mlops.hub --max-upload-mb)."
        )
        self.refusal = (413, {"error_code": "PAYLOAD_TOO_LARGE", "message": message})
        if now:
            self.answer(*self.refusal)

    def data_received(self, chunk: bytes) -> None:
        """Spool one chunk of the archive to disk, counting; past the cap, drop the rest and answer 413."""
        if self.spool is None or self.refusal is not None:
            return
        self.received += len(chunk)
        if self.received > self.door.max_upload_bytes:
            self._discard()
            self._too_large(self.door.max_upload_bytes, now=False)  # answered once the body has been read
            return
        self.spool.write(chunk)

    def _discard(self) -> None:
        if self.spool is not None:
            self.spool.close()
            Path(self.spool.name).unlink(missing_ok=True)
            self.spool = None

    def on_connection_close(self) -> None:
        """The client went away mid-upload: remove what was spooled."""
        self._discard()

    async def post(self, name: str) -> None:
        """Check and register the spooled archive as a new version of ``name``; 201 with the version."""
        if self.refusal is not None and not self._finished:
            self.answer(*self.refusal)
            return
        if self.refusal is not None or self.principal is None or self.spool is None:
            return
        self.spool.close()
        try:
            if self.received == 0:
                raise InvalidRequest("The upload is empty: send the model folder packed as tar.gz.")
            version = await self.door.register_upload(self.principal, name, self.spool.name)
        except MLOpsError as exc:
            self.answer(exc.status, wire.error_body(exc))
            return
        finally:
            self._discard()
        self.set_header("Location", f"{name}/{version.version}")
        self.answer(201, {"result": wire.encode(version)})


class WhoHandler(BaseHandler):
    """``GET api/v1/me``: who the presented token is, as the service sees it (name, groups, MLOps scopes)."""

    async def get(self) -> None:
        try:
            principal = await self.door.principal(self.request)
        except Refused as exc:
            self.answer(exc.status, {"message": exc.message})
            return
        self.answer(200, {"name": principal.name, "groups": list(principal.groups), "scopes": sorted(principal.scopes)})


class PingHandler(BaseHandler):
    """``GET api/v1/ping``: liveness, without authentication and without touching the store."""

    def get(self) -> None:
        self.answer(200, {"ok": True})


def make_app(
    door: HubDoor,
    prefix: str,
    extra_routes: list[tuple[str, type[web.RequestHandler], dict[str, Any]]] | None = None,
) -> web.Application:
    """The service's routes under ``prefix`` (``$JUPYTERHUB_SERVICE_PREFIX``): the API, OAuth's callback, extras.

    ``extra_routes`` are the fleet dashboard's (``<prefix>fleet/``); its browser login comes back to
    ``<prefix>oauth_callback``, through the same ``HubOAuth`` instance the API door checks tokens with.
    """
    kw = {"door": door}
    routes: list[Any] = [
        (url_path_join(prefix, "api/v1/call/([a-z_]+)"), CallHandler, kw),
        (url_path_join(prefix, "api/v1/models/([^/]+)/versions"), UploadHandler, kw),
        (url_path_join(prefix, "api/v1/me"), WhoHandler, kw),
        (url_path_join(prefix, "api/v1/ping"), PingHandler, kw),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler, {}),
        *(extra_routes or []),
    ]
    return web.Application(routes, cookie_secret=os.urandom(32))
