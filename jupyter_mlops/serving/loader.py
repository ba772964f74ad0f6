"""Loading models for the daemon: MLflow configured once, a local artifact cache and pyfunc snapshots for fast
reloads, and the size estimate the memory budget uses.

Kept apart from ``host`` (which decides what is loaded when) so that each stays one role: this module knows how a
model gets from the registry into memory, never which deployments want it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
from typing import Any

from . import heap
from .parity import SAMPLE_ATTRIBUTE

log = logging.getLogger(__name__)

PARITY_SUFFIX = ".parity.json"  # beside a local copy in the model cache: its run's parity sample

MiB = 1024 * 1024
# What a loaded model holds besides its estimator (PyFuncModel, metadata, signature, ScoringModel), measured with
# benchmarks/density.py on small scikit-learn models; added to each model's pickled size.
MODEL_OVERHEAD_BYTES = 1 * MiB
MAX_ERROR_LENGTH = 500

# CPython 3.11 builds ``ast`` objects with interpreter-wide state (python/cpython#106905), and numpy parses every
# saved array's header with ``ast.literal_eval``: two models deserialised by two threads at once can fail with
# "SystemError: AST constructor recursion depth mismatch". Deserialising is CPU-bound under the GIL anyway, so one
# at a time per process costs little; downloads stay parallel.
_DESERIALIZING = threading.Lock()


def load_pyfunc(path_or_uri: str) -> Any:
    """``mlflow.pyfunc.load_model``, one model at a time in this process (see ``_DESERIALIZING``)."""
    import mlflow.pyfunc

    with _DESERIALIZING:
        return mlflow.pyfunc.load_model(path_or_uri)


def model_size_bytes(pyfunc: Any) -> int:
    """Estimated memory of a loaded pyfunc model: its estimator's pickled size plus a fixed overhead.

    Pickled size tracks the arrays that dominate a model's memory (trees, coefficients) and costs one
    serialisation at load, never on the request path."""
    import cloudpickle

    for get in (lambda: pyfunc.get_raw_model(), lambda: pyfunc._model_impl):
        try:
            return len(cloudpickle.dumps(get())) + MODEL_OVERHEAD_BYTES
        except Exception:  # noqa: S112 - not every flavor exposes or pickles its raw model; try the next
            continue
    return 2 * MODEL_OVERHEAD_BYTES


def release_memory() -> None:
    """Give freed heap back to the OS after an eviction (glibc keeps it otherwise, and RSS would not drop)."""
    import ctypes

    # No gc.collect(): it would hold the GIL for a fraction of a second in a process with MLflow loaded, and
    # reference counting already freed the evicted models.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line, bounded; never a traceback."""
    message = getattr(exc, "message", None)
    text = " ".join((message if isinstance(message, str) else str(exc)).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


class MLflowLoader:
    """Loads pyfunc models from the registry; configures and imports MLflow once, off the event loop."""

    def __init__(self, tracking_uri: str | None, registry_uri: str | None, cache_dir: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        # Local copies of registered versions' artifacts: a reload after eviction or a restart reads them from
        # disk instead of downloading them again (None: always from the registry).
        self.cache_dir = cache_dir
        self._ready = False
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Import MLflow and point it at the configured servers (about a second; done once per process)."""
        with self._lock:
            if self._ready:
                return
            import mlflow
            import mlflow.pyfunc  # imported now so the first deploy does not pay for it

            if self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
            if self.registry_uri:
                mlflow.set_registry_uri(self.registry_uri)
            self._warm_caches()
            heap.settle()  # MLflow, pandas and scikit-learn's objects live as long as the process
            self._ready = True

    def _warm_caches(self) -> None:
        """Pay once, at startup, what the first load would: the registry store (about 0.7 s on SQLite, schema
        checks) and scikit-learn (our own dependency and the most common flavor, about 0.5 s)."""
        import mlflow

        from ..core.registry import mlflow_store_lock

        if _registry_initialised(self.registry_uri or mlflow.get_registry_uri()):
            try:
                with mlflow_store_lock(self.tracking_uri, self.registry_uri):
                    mlflow.MlflowClient().search_registered_models(max_results=1)
            except Exception as exc:  # the registry may be down now and up by the first deploy
                log.warning("MLflow registry not reachable yet: %s", describe_error(exc))
        with contextlib.suppress(ImportError):
            import sklearn.base  # noqa: F401

    def __call__(self, model_uri: str) -> Any:
        self.prepare()
        local = self._cached(model_uri) if self.cache_dir else None
        if local is None:
            return load_pyfunc(model_uri)
        return self._from_snapshot(local)

    def local_copy(self, model_uri: str) -> str:
        """A local folder holding ``model_uri``'s artifacts, for a worker that may not reach the registry itself.

        Registered versions come from the model cache (downloaded once); any other URI is downloaded into the cache
        under a key of its own. Raises what MLflow raises when the registry or the artifact store fails."""
        self.prepare()
        local = self._cached(model_uri) if self.cache_dir else None
        if local is None:
            local = self._download(model_uri)
        self._fetch_parity_sample(local)
        return local

    def _fetch_parity_sample(self, local: str) -> None:
        """Beside a local copy, the parity sample of its run (``{"sample": ...}``, null when it has none), which a
        worker cannot fetch itself; fetched once."""
        path = local + PARITY_SUFFIX
        if os.path.exists(path):
            return
        import mlflow.artifacts
        from mlflow.models import Model

        from ..core.monitoring.baseline import PARITY_SAMPLE_ARTIFACT

        document = None
        run_id = Model.load(local).run_id
        if run_id:
            try:
                document = mlflow.artifacts.load_dict(f"runs:/{run_id}/{PARITY_SAMPLE_ARTIFACT}")
            except Exception as exc:  # most often: registered without X, so there is no sample
                log.debug("no parity sample for run %s: %s", run_id, describe_error(exc))
        fd, staging = tempfile.mkstemp(prefix=".parity-", dir=os.path.dirname(local))
        with os.fdopen(fd, "w") as file:
            json.dump({"sample": document}, file, allow_nan=True)
        os.replace(staging, path)

    def _download(self, model_uri: str) -> str:
        """A fresh local copy of any model URI (not a registered version), kept at one place in the cache."""
        import mlflow.artifacts

        cache = self.cache_dir or tempfile.mkdtemp(prefix="mlops-model-")
        os.makedirs(cache, mode=0o700, exist_ok=True)
        # Not a version (an alias moves): downloaded again each time, into the same place.
        target = os.path.join(cache, "uri-" + hashlib.sha256(model_uri.encode()).hexdigest()[:32])
        staging = tempfile.mkdtemp(prefix=".uri-", dir=cache)
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=staging)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(path, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _from_snapshot(self, local: str) -> Any:
        """The pyfunc model of the cached artifacts at ``local``, unpickled from a snapshot taken at its first load
        (milliseconds instead of MLflow's ~0.1 s load for a small model: what a reload after eviction or a restart
        pays). The snapshot is taken by this daemon, beside the artifacts it came from, and keyed by the Python
        and MLflow versions; any failure falls back to MLflow's loader."""
        import cloudpickle
        import mlflow

        snapshot = f"{local}.{sys.version_info[0]}{sys.version_info[1]}-{mlflow.__version__}.pyfunc"
        with contextlib.suppress(OSError):
            with open(snapshot, "rb") as file:
                data = file.read()
            try:
                with _DESERIALIZING:
                    return cloudpickle.loads(data)
            except Exception as exc:
                log.warning("Model snapshot %s unreadable (%s); loading with MLflow", snapshot, describe_error(exc))
        pyfunc = load_pyfunc(local)
        try:
            data = cloudpickle.dumps(pyfunc)
            fd, staging = tempfile.mkstemp(prefix=".snapshot-", dir=os.path.dirname(local))
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(staging, snapshot)
        except Exception as exc:
            log.info("No snapshot of %s: %s", local, describe_error(exc))
        return pyfunc

    def _cached(self, model_uri: str) -> str | None:
        """A local copy of ``models:/name/version``'s artifacts, downloaded once. Keyed by the version's creation
        time too, so a version number reused after its model was deleted and registered again is not confused
        with the old one. None for other URIs (aliases move: they are resolved by MLflow each time)."""
        match = re.fullmatch(r"models:/([^/@]+)/(\d+)", model_uri)
        if match is None or self.cache_dir is None:
            return None
        import mlflow
        import mlflow.artifacts

        name, version = match.groups()
        created = mlflow.MlflowClient().get_model_version(name, version).creation_timestamp
        key = hashlib.sha256(f"{name}\0{version}\0{created}".encode()).hexdigest()[:32]
        target = os.path.join(self.cache_dir, key)
        if os.path.isfile(os.path.join(target, "MLmodel")):
            return target
        os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{key}-", dir=self.cache_dir)
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=staging)
            try:
                os.replace(path, target)
            except OSError as exc:
                # Another worker renamed its complete copy there first (ENOTEMPTY/EEXIST): use that one.
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target if os.path.isfile(os.path.join(target, "MLmodel")) else None


def _registry_initialised(uri: str) -> bool:
    """False for a SQLite registry that no process has created yet: the warm-up must not be the one that creates
    it, because two processes creating MLflow's tables at once make one of them fail (alembic race)."""
    if not uri.startswith("sqlite:///"):
        return True
    path = uri[len("sqlite:///") :]
    if not os.path.exists(path):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


class LocalLoader:
    """Loads models from folders its daemon downloaded: the loader of an isolated worker, which holds no registry
    or store credential and never contacts either (``paths`` maps each model URI to its local copy)."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ready = False

    def prepare(self) -> None:
        """Import MLflow's pyfunc loader (and scikit-learn, the most common flavor) once, off the event loop."""
        with self._lock:
            if self._ready:
                return
            import mlflow.pyfunc  # noqa: F401

            with contextlib.suppress(ImportError):
                import sklearn.base  # noqa: F401
            heap.settle()
            self._ready = True

    def __call__(self, model_uri: str) -> Any:
        self.prepare()
        path = self.paths.get(model_uri)
        if path is None:
            raise LookupError(f"No local copy of {model_uri} was handed to this worker by its daemon.")
        pyfunc = load_pyfunc(path)
        sample = None
        with contextlib.suppress(OSError, ValueError), open(path + PARITY_SUFFIX) as file:
            sample = json.load(file).get("sample")
        setattr(pyfunc, SAMPLE_ATTRIBUTE, sample)  # the parity gate reads it instead of the registry
        return pyfunc
