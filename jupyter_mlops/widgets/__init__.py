"""jupyter_mlops widgets."""
