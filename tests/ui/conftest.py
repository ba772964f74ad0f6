"""A real JupyterLab (with the built extension) on 127.0.0.1 and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_until

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DOCS = Path(__file__).parents[2] / "docs"
SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jp-mlops-sidebar"]'


def open_sidebar(page) -> object:
    """Show the MLOps panel (the layout restorer may already have it open: a click would then close it).

    On a fresh profile JupyterLab may still be restoring its layout when the tab is first clicked, and the
    restore can collapse the side bar again: click until the panel shows, within a deadline."""
    tab = page.locator(SIDEBAR_TAB)
    panel = page.locator("#jp-mlops-sidebar")
    deadline = time.monotonic() + 60
    while True:
        if "lm-mod-current" not in (tab.get_attribute("class") or ""):
            tab.click()
        try:
            panel.wait_for(state="visible", timeout=5_000)
            return panel
        except Exception:
            if time.monotonic() > deadline:
                raise


for _var in [v for v in os.environ if v.startswith(("JUPYTER_MLOPS_", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))]:
    del os.environ[_var]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ui") / "mlops"
    yield path
    if (path / "serving" / "daemon.json").exists():
        from jupyter_mlops.config import MLOpsConfig
        from jupyter_mlops.core.store import Store
        from jupyter_mlops.core.targets.local import LocalTarget

        config = MLOpsConfig(data_dir=str(path))
        LocalTarget(config, Store(config.store_url)).stop_daemon()


@pytest.fixture(scope="session")
def mlops(data_dir: Path):
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    service = MLOps(MLOpsConfig(data_dir=str(data_dir)), user="ui-tester")
    yield service
    service.close()


def _user_setting(root: Path, package: str, plugin: str, values: dict) -> None:
    folder = root / package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))


@pytest.fixture(scope="session")
def lab(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, mlops) -> Iterator[str]:
    """JupyterLab on a free loopback port; yields its URL with the token."""
    port, token = _free_port(), secrets.token_hex(16)
    root = tmp_path_factory.mktemp("lab-root")
    log = root / "lab.log"
    settings = tmp_path_factory.mktemp("lab-settings")
    _user_setting(settings, "@jupyterlab/apputils-extension", "notification", {"fetchNews": "false"})
    _user_setting(settings, "@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})
    # Every cell in the DOM (the default windowing drops off-screen cells): the demo test reads all their outputs.
    _user_setting(settings, "@jupyterlab/notebook-extension", "tracker", {"windowingMode": "none"})
    env = {
        **os.environ,
        "JUPYTER_MLOPS_DATA_DIR": str(data_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_MLOPS_PROTECTED_DEPLOYMENTS": "*-guarded",  # the approvals test's deployments
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
        env=env,
    )
    base = f"http://127.0.0.1:{port}/"
    try:

        def serving() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            answer = httpx.get(base + "mlops/api/version", headers={"Authorization": f"token {token}"})
            return answer.status_code == 200

        wait_until(
            serving,
            90,
            lambda: "JupyterLab did not start: " + log.read_text()[-3000:],
            0.3,
            ignore=(httpx.TransportError,),
        )
        yield f"{base}lab?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, lab):
    page = browser.new_page()
    page.goto(lab)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector(SIDEBAR_TAB, timeout=60_000)
    yield page
    page.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, keep a screenshot of the page under test-results/ to see what the user would have seen."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is not None:
        target = Path(__file__).parents[2] / "test-results"
        target.mkdir(exist_ok=True)
        page.screenshot(path=str(target / f"{item.name}.png"))
