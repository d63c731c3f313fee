"""The Open Inference Protocol V2 (KServe V2, Triton's HTTP API) with the binary tensor data extension,
for every model of the registry: service/app.py registers ``routes()`` and ``V2ErrorShape``."""

from service.v2.errors import V2ErrorShape
from service.v2.routes import routes

__all__ = ["V2ErrorShape", "routes"]
