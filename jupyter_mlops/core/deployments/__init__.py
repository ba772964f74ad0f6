"""jupyter_mlops core.deployments."""
