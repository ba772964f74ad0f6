"""jupyter_mlops magics."""
