"""jupyter_mlops server."""
