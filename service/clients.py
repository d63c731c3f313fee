"""The routes BentoML's own clients see, so that they call the very handlers of the JSON API.

``bentoml.SyncHTTPClient(url)``, ``AsyncHTTPClient`` and ``bentoml.depends(url=...)`` build their
methods from ``/schema.json``'s ``routes``, which BentoML fills from ``@bentoml.api`` methods only;
the prediction routes are the mounted app's, so it lists none. This service class adds one route per
model of the registry (named after its path: ``classify``, ``digits``) with the request and answer
schemas of the JSON API. The client then posts ``{"rows": ...}`` to ``/classify`` itself: the same
validation, limits, shedding, deadlines, metrics and error shape, and nothing added to the hot path
(``@bentoml.api`` methods on the same paths would shadow the handlers with BentoML's lax parsing).
A refusal reaches the caller as BentoML's exception for the status (422: UnprocessableEntity), its
text the JSON error body.
"""

from __future__ import annotations

from typing import Any

import bentoml

from models import SPECS
from service.kinds import kind_of


def client_routes() -> list[dict[str, Any]]:
    """One /schema.json route per model's JSON predictions, in BentoML's route format."""
    routes = []
    for spec in SPECS.values():
        kind = kind_of(spec.input_schema(spec.config_type()))
        routes.append(
            {
                "name": spec.route.strip("/").replace("/", "_"),
                "route": spec.route,
                "description": kind.summary,
                "batchable": False,
                "input": _inline(kind.request.model_json_schema()),
                "output": _inline(kind.response.model_json_schema()),
                "is_task": False,
            }
        )
    return routes


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as BentoML's clients read it: one object, no references to resolve."""
    if "$defs" in schema:
        raise ValueError(f"{schema.get('title')}: nested models are not inlined here; keep the schema flat")
    return schema


class ServingService(bentoml.Service[Any]):  # type: ignore[misc]
    """BentoML's service object, with the mounted prediction routes in ``/schema.json``."""

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = super().schema()
        schema["routes"] = [*schema.get("routes", []), *client_routes()]
        return schema
