"""Team mode: the MLOps hub service (``python -m jupyter_mlops.hub``) and its remote client.

``hub.client`` (httpx only) is what users' servers and kernels import; ``hub.app`` (tornado + jupyterhub) runs only
in the service. Importing this package imports neither.
"""
