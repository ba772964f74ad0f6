"""jupyter_mlops: register, deploy and monitor ML models from JupyterLab."""

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - source tree without a build
    __version__ = "0.0.0.dev0"
