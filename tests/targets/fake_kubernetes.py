"""A FAKE Kubernetes API server with a fake KServe controller and ingress, for tests only.

No Kubernetes cluster can run on this machine (no container runtime), so the KServe target is tested against
this stand-in: a small HTTP server on 127.0.0.1 that serves the InferenceService CRUD paths the ``kubernetes``
client calls (create, get, list with a label selector, replace with resourceVersion checks, delete), validates
bodies against the real InferenceService CRD schema when the copy in ../shared/data/kserve/ is present (as the
API server does), and plays KServe's controller: shortly after a spec changes it loads the model from the
storage URI and reports Ready with a URL, or ModelLoadFailed. Its "ingress" answers the Open Inference Protocol
V2 ``/v2/models/{name}/infer`` with MLflow's own pyfunc loader (standing in for MLServer's MLflow runtime).
Everything in jupyter_mlops talks to it through the real ``kubernetes`` client over real HTTP.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

PATH = re.compile(
    r"^/apis/serving\.kserve\.io/v1beta1/namespaces/(?P<ns>[^/]+)/inferenceservices(?:/(?P<name>[^/]+))?$"
)
INFER = re.compile(r"^/ingress/(?P<ns>[^/]+)/(?P<name>[^/]+)/v2/models/(?P<model>[^/]+)/infer$")


class FakeKubernetes:
    """The fake cluster. ``storage_roots`` maps storage URI prefixes (e.g. ``pvc://mlflow/``) to local folders,
    as a volume mount would; ``ready_delay`` is how long the fake controller takes to bring a revision up."""

    def __init__(
        self, storage_roots: dict[str, str], schema: dict[str, Any] | None = None, ready_delay: float = 0.3
    ) -> None:
        self.storage_roots = storage_roots
        self.schema = schema
        self.ready_delay = ready_delay
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._version = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubernetes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, folder: Path) -> Path:
        path = folder / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    # --- the fake controller -------------------------------------------------------------------------------

    def _reconcile(self, obj: dict[str, Any], changed_at: float) -> None:
        """Status as KServe's controller would report it once the revision is up (after ``ready_delay``)."""
        meta = obj["metadata"]
        if time.monotonic() - changed_at < self.ready_delay:
            obj["status"] = {
                "observedGeneration": meta["generation"],
                "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionMissing"}],
            }
            return
        uri = obj["spec"]["predictor"]["model"]["storageUri"]
        try:
            self._load(uri)
        except Exception as exc:
            obj["status"] = {
                "observedGeneration": meta["generation"],
                "conditions": [
                    {"type": "PredictorReady", "status": "False", "reason": "ModelLoadFailed", "message": str(exc)},
                    {"type": "Ready", "status": "False", "reason": "ModelLoadFailed", "message": str(exc)},
                ],
            }
            return
        obj["status"] = {
            "observedGeneration": meta["generation"],
            "url": f"{self.url}/ingress/{meta['namespace']}/{meta['name']}",
            "conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"}],
        }

    def _load(self, uri: str) -> Any:
        if uri not in self._models:
            import mlflow.pyfunc

            prefix = next((p for p in self.storage_roots if uri.startswith(p)), None)
            if prefix is None:
                raise RuntimeError(f"storage URI {uri} is not mounted")
            path = Path(self.storage_roots[prefix]) / uri[len(prefix) :]
            self._models[uri] = mlflow.pyfunc.load_model(str(path))
        return self._models[uri]

    # --- HTTP ----------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(code, {"kind": "Status", "status": "Failure", "reason": reason, "message": message})

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                fake.requests.append((method, url.path))
                infer = INFER.match(url.path)
                if infer and method == "POST":
                    return self._infer(infer["ns"], infer["name"])
                match = PATH.match(url.path)
                if not match:
                    return self._status(404, "NotFound", f"the server could not find {url.path}")
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self._status(401, "Unauthorized", "Unauthorized")
                ns, name = match["ns"], match["name"]
                with fake._lock:
                    if method == "GET" and name is None:
                        return self._list(ns, parse_qs(url.query).get("labelSelector", [""])[0])
                    if method == "POST" and name is None:
                        return self._write(ns, self._body(), create=True)
                    if name is None:
                        return self._status(405, "MethodNotAllowed", method)
                    obj = fake.objects.get((ns, name))
                    if method == "GET":
                        if obj is None:
                            return self._status(404, "NotFound", f'inferenceservices "{name}" not found')
                        fake._reconcile(obj, obj["_changed"])
                        return self._send(200, _public(obj))
                    if method == "PUT":
                        return self._write(ns, self._body(), create=False)
                    if method == "DELETE":
                        if fake.objects.pop((ns, name), None) is None:
                            return self._status(404, "NotFound", f'inferenceservices "{name}" not found')
                        return self._send(200, {"kind": "Status", "status": "Success"})
                return self._status(405, "MethodNotAllowed", method)

            def _list(self, ns: str, selector: str) -> None:
                wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
                items = []
                for (obj_ns, _), obj in sorted(fake.objects.items()):
                    labels = obj["metadata"].get("labels", {})
                    if obj_ns == ns and all(labels.get(k) == v for k, v in wanted.items()):
                        fake._reconcile(obj, obj["_changed"])
                        items.append(_public(obj))
                listing = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceServiceList", "items": items}
                self._send(200, listing)

            def _write(self, ns: str, body: dict[str, Any], *, create: bool) -> None:
                if fake.schema is not None:
                    import jsonschema

                    errors = [e.message for e in jsonschema.Draft7Validator(fake.schema).iter_errors(body)]
                    if errors:
                        return self._status(422, "Invalid", "; ".join(errors))
                name = body["metadata"]["name"]
                current = fake.objects.get((ns, name))
                if create and current is not None:
                    return self._status(409, "AlreadyExists", f'inferenceservices "{name}" already exists')
                if not create:
                    if current is None:
                        return self._status(404, "NotFound", f'inferenceservices "{name}" not found')
                    if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                        return self._status(409, "Conflict", "the object has been modified; apply your changes again")
                fake._version += 1
                obj = copy.deepcopy(body)
                obj["metadata"]["namespace"] = ns
                obj["metadata"]["resourceVersion"] = str(fake._version)
                obj["metadata"]["generation"] = (current["metadata"]["generation"] + 1) if current else 1
                obj["_changed"] = time.monotonic()
                obj.pop("status", None)
                fake.objects[(ns, name)] = obj
                self._send(201 if create else 200, _public(obj))

            def _infer(self, ns: str, name: str) -> None:
                obj = fake.objects.get((ns, name))
                if obj is None or obj.get("status", {}).get("url") is None:
                    return self._send(404, {"error": f"model {name} not ready"})
                request = self._body()
                frame = pd.DataFrame({t["name"]: t["data"] for t in request["inputs"]})
                model = fake._load(obj["spec"]["predictor"]["model"]["storageUri"])
                predictions = [p.item() if hasattr(p, "item") else p for p in model.predict(frame)]
                datatype = "INT64" if all(isinstance(p, int) for p in predictions) else "FP64"
                output = {"name": "output-1", "shape": [len(predictions), 1], "datatype": datatype, "data": predictions}
                self._send(200, {"model_name": name, "outputs": [output]})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PUT(self) -> None:
                self._route("PUT")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        return Handler


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}
