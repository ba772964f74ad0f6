"""jupyter_mlops serving."""
