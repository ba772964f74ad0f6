"""Registration by users is off unless the hub service is started with ``--allow-kernel-registration``.

A registered model is code that runs in the service's serving workers, which still hold the store's connection
settings (README, Team mode), so by default the service refuses both ways in: the upload of a packed model and a
``register`` call with a URI. The real ``HubDoor`` and a real facade on a fresh store; no hub is needed since the
gate sits after authentication.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.principal import Principal
from jupyter_mlops.core.service import MLOps
from jupyter_mlops.hub.__main__ import parse_args
from jupyter_mlops.hub.app import HubDoor, Refused


def test_registration_is_refused_by_default_and_allowed_when_enabled(tmp_path: Path) -> None:
    mlops = MLOps(MLOpsConfig(data_dir=str(tmp_path)), principal=Principal(name="mlops-service"))
    alice = Principal(name="alice")
    with ThreadPoolExecutor(1) as pool:
        closed = HubDoor(mlops, None, "mlops", pool)  # type: ignore[arg-type]
        with pytest.raises(Refused) as refused:
            asyncio.run(closed.run(alice, "register", ["runs:/0123/model", "m"], {}))
        assert refused.value.status == 403
        assert "--allow-kernel-registration" in refused.value.message
        with pytest.raises(Refused):
            closed.check_registration()  # the upload route's check, made before a byte of the body is read

        opened = HubDoor(mlops, None, "mlops", pool, allow_kernel_registration=True)  # type: ignore[arg-type]
        opened.check_registration()
        with pytest.raises(Exception) as missing:  # past the gate: the run does not exist, the registry says so
            asyncio.run(opened.run(alice, "register", ["runs:/0123/model", "m"], {}))
        assert not isinstance(missing.value, Refused)


def test_the_option_and_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_HUB_ALLOW_KERNEL_REGISTRATION", raising=False)
    assert parse_args([]).allow_kernel_registration is False
    assert parse_args(["--allow-kernel-registration"]).allow_kernel_registration is True
    monkeypatch.setenv("JUPYTER_MLOPS_HUB_ALLOW_KERNEL_REGISTRATION", "1")
    assert parse_args([]).allow_kernel_registration is True
