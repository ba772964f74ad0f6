"""Framework-free business logic. Imports neither tornado, jupyter_server, IPython nor ipywidgets."""
