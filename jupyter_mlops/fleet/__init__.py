"""The fleet view (issue 9): every user's deployments, their health and governance, as a JupyterHub service.

Depends on ``jupyter_mlops.core`` only (never on the per-user server extension): ``rollups`` keeps aggregates of
the shared store's inference log up to date, ``queries`` reads them, ``app`` serves them behind the hub's OAuth.
"""
