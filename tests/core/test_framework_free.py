"""Core is framework-free: importing it (and the whole facade) loads no Jupyter, tornado or IPython module."""

import subprocess
import sys


def test_core_imports_no_framework() -> None:
    code = (
        "import sys\n"
        "import jupyter_mlops.core.service, jupyter_mlops.core.api, jupyter_mlops.core.targets\n"
        "import jupyter_mlops.core.targets.local\n"
        "bad = [m for m in ('tornado', 'jupyter_server', 'IPython', 'ipywidgets') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core loaded framework modules: {result.stdout.strip()}"


def test_package_import_is_light() -> None:
    """`import jupyter_mlops` (done by JupyterLab at start-up) must not pull in MLflow."""
    code = "import sys, jupyter_mlops; print('mlflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
