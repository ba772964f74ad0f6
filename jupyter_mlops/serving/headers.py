"""The response headers every serving target sets, so clients read one contract on the local daemon and Ray."""

from __future__ import annotations

JSON = "application/json"
REQUEST_ID_HEADER = "X-MLOps-Request-Id"  # unique per request; the inference log's key
VARIANT_HEADER = "X-MLOps-Variant"  # the variant that answered (primary, canary, ...)
VERSION_HEADER = "X-MLOps-Model-Version"  # the model version that answered
RETRY_AFTER = "Retry-After"
