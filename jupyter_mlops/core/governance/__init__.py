"""jupyter_mlops core.governance."""
