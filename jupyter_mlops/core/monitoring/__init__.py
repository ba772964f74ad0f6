"""jupyter_mlops core.monitoring."""
