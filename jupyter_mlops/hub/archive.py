"""The service's side of registering from a team-mode kernel: check an uploaded model archive, never load it.

The archive is user code (a pickled model is a program). The service reads it as files only: regular files and
folders, no symlinks, hard links, devices, absolute paths or ``..``; a bounded unpacked size; an ``MLmodel`` at its
root declaring a ``python_function`` flavor (read as YAML data). Nothing in it is imported or unpickled here. The
files become the artifacts of a new MLflow run (MLflow stays the system of record) and that run's model is
registered as a new version owned by the caller, whose name comes from the hub token. What the kernel computed
(parameters, metrics, the monitoring baseline, the parity sample, lineage) is stored as it came, and the lineage
is labelled as asserted by the client: the service vouches only for who registered.

Framework-free (no tornado): ``hub.app`` streams the upload to a temporary file and calls ``register_archive``.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from pathlib import Path
from typing import Any

from ..core import validation
from ..core.errors import InvalidRequest
from ..core.governance.changes import version_state
from ..core.models import ModelVersion
from ..core.monitoring import baseline as baselines
from ..core.monitoring import reference as references
from ..core.resource import Resource
from .upload import REGISTRATION_FILE

MAX_MEMBERS = 10_000
LINEAGE_SOURCE_TAG = "mlops.lineage.source"


def unpack(archive: Path, into: Path, max_bytes: int) -> dict[str, Any]:
    """Check ``archive`` member by member and unpack it into ``into``; returns the kernel's registration JSON.

    Raises InvalidRequest naming the first offending member. Nothing is extracted before every member is checked.
    """
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidRequest(
            f"The upload is not a tar.gz archive ({exc}): send the model folder packed as tar.gz."
        ) from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InvalidRequest(f"The model archive is damaged ({exc}): pack the model folder again.") from None
        if len(members) > MAX_MEMBERS:
            raise InvalidRequest(f"The model archive has {len(members)} entries; at most {MAX_MEMBERS} are accepted.")
        total = 0
        for member in members:
            _check_member(member)
            total += member.size
            if total > max_bytes:
                raise InvalidRequest(
                    f"The model archive unpacks to more than {max_bytes} bytes: register a smaller model or ask a hub "
                    "admin to raise the service's upload limit."
                )
        names = {posixpath.normpath(m.name) for m in members}
        if "MLmodel" not in names:
            raise InvalidRequest(
                "The model archive has no MLmodel file at its root: pack the folder mlflow.pyfunc.save_model wrote "
                "(its contents, not the folder itself)."
            )
        into.mkdir(parents=True, exist_ok=True)
        tar.extractall(into, filter="data")  # checked above; the data filter is a second lock on the same door
    _check_mlmodel(into / "MLmodel")
    meta_file = into / REGISTRATION_FILE
    if not meta_file.exists():
        return {}
    try:
        meta = json.loads(meta_file.read_text())
    except ValueError:
        raise InvalidRequest(f"{REGISTRATION_FILE} in the model archive is not JSON.") from None
    finally:
        meta_file.unlink()
    if not isinstance(meta, dict):
        raise InvalidRequest(f"{REGISTRATION_FILE} in the model archive must hold a JSON object.")
    return meta


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if not (member.isreg() or member.isdir()):
        kind = "symlink" if member.issym() else "hard link" if member.islnk() else "device or special file"
        raise InvalidRequest(
            f"The model archive contains {name!r}, a {kind}: only regular files and folders are accepted."
        )
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise InvalidRequest(f"The model archive contains {name!r}, an absolute path: paths must be relative.")
    if ".." in name.split("/"):
        raise InvalidRequest(f"The model archive contains {name!r}, which climbs out of the model folder ('..').")


def _check_mlmodel(path: Path) -> None:
    import yaml

    try:
        spec = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The MLmodel file of the archive is not valid YAML ({exc}).") from None
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    if not isinstance(flavors, dict) or "python_function" not in flavors:
        raise InvalidRequest(
            "The MLmodel file of the archive declares no python_function flavor: save the model with an MLflow "
            "flavor that serves through pyfunc (mlflow.sklearn, mlflow.pyfunc, ...)."
        )


def _signature_columns(folder: Path) -> list[str] | None:
    """The input column names the MLmodel's signature declares (read as YAML and JSON data), or None."""
    import yaml

    try:
        spec = yaml.safe_load((folder / "MLmodel").read_text())
        inputs = json.loads(spec["signature"]["inputs"])
    except (KeyError, TypeError, ValueError, yaml.YAMLError):
        return None
    return references.signature_columns({"inputs": inputs})


def _reference(value: Any, folder: Path) -> tuple[Any, Any] | None:
    """The labelled reference set the kernel sent, checked again here against the uploaded model's signature."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), list) for k in ("columns", "data", "labels")):
        raise InvalidRequest(
            "The reference set in the model archive must be an object with columns, data (a list of rows) and "
            "labels (one per row)."
        )
    import pandas as pd

    try:
        frame = pd.DataFrame(value["data"], columns=[str(c) for c in value["columns"]])
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"The reference set's rows do not match its columns: {exc}.") from None
    return references.check_reference((frame, pd.Series(value["labels"])), _signature_columns(folder))


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be an object of strings.")
    return {str(k)[:250]: str(v)[:5000] for k, v in value.items()}


def _numbers(value: Any, what: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be an object of numbers.")
    try:
        return {str(k)[:250]: float(v) for k, v in value.items()}
    except (TypeError, ValueError):
        raise InvalidRequest(f"{what} must be an object of numbers.") from None


def register_archive(view: Any, name: str, folder: Path, meta: dict[str, Any]) -> ModelVersion:
    """Register the checked model folder as a new version of ``name``, as ``view``'s principal (the caller).

    ``view`` is the service's facade acting as the token's user: the same authorization, ledger entry and alias
    rules (protected aliases need an approval) as the embedded ``register``.
    """
    name = validation.model_name(name)
    alias = meta.get("alias")
    alias = validation.alias(str(alias)) if alias else None
    view._authorize("register", Resource.model(name))
    user = view.principal.name
    lineage = {k: v for k, v in _strings(meta.get("lineage"), "lineage").items() if k.startswith("mlops.")}
    tags = {
        **lineage,
        **_strings(meta.get("tags"), "tags"),
        "mlops.registered_by": user,  # from the hub token: the one lineage fact the service vouches for
        LINEAGE_SOURCE_TAG: f"client-asserted: notebook, git and environment as sent by {user}'s kernel",
    }
    params = _strings(meta.get("params"), "params")
    metrics = _numbers(meta.get("metrics"), "metrics")
    description = meta.get("description")
    reference = _reference(meta.get("reference"), folder)  # refused before anything is logged
    version = log_folder(view.registry, folder, name, tags=tags, params=params, metrics=metrics,
                         description=str(description) if description else None)  # fmt: skip
    baseline = meta.get("baseline")
    if isinstance(baseline, dict) and version.run_id:
        view.registry.log_run_json(version.run_id, baselines.BASELINE_ARTIFACT, baseline)
        view.registry.set_version_tags(name, version.version, {"mlops.baseline": baselines.BASELINE_ARTIFACT})
    parity = meta.get("parity_sample")
    if isinstance(parity, dict) and isinstance(parity.get("data"), list) and version.run_id:
        view.registry.log_run_json(version.run_id, baselines.PARITY_SAMPLE_ARTIFACT, parity)
        tag = f"{baselines.PARITY_SAMPLE_ARTIFACT} ({len(parity['data'])} rows)"
        view.registry.set_version_tags(name, version.version, {"mlops.data.parity_sample": tag})
    if reference is not None:
        references.store_reference(view.registry, version, reference[0], reference[1])
    view._audit("register", Resource.model(name, version=version.version), None, version_state(version))
    if alias:
        version = view.set_alias(name, alias, version.version)
    return view.registry.version(name, version.version)


def log_folder(
    registry: Any,
    folder: Path,
    name: str,
    *,
    tags: dict[str, str],
    params: dict[str, str],
    metrics: dict[str, float],
    description: str | None,
) -> ModelVersion:
    """Log ``folder`` as the ``model`` artifacts of a new run of our experiment and register that run's model."""
    experiment_id = registry.experiment_id()
    with registry._errors(f"Logging model {name!r}"):
        client = registry.client
        run = client.create_run(experiment_id, run_name=f"register-{name}", tags=tags)
        run_id = run.info.run_id
        try:
            registry.log_run_values(run_id, params=params, metrics=metrics)
            client.log_artifacts(run_id, str(folder), "model")
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id)
    return registry.register_uri(f"runs:/{run_id}/model", name, tags=tags, description=description)
