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

The same service class gives BentoML this project's OpenAPI document (service/apidoc.py) and installs
the API page at ``/`` and the JSON 404/405 on the app BentoML builds (service/apipage.py).
"""

from __future__ import annotations

from typing import Any

import bentoml
from bentoml._internal.service.openapi.specification import OpenAPISpecification
from bentoml._internal.utils.cattr import bentoml_cattr

from models import SPECS
from service import apidoc, apipage
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
    """BentoML's service object, with the mounted prediction routes in ``/schema.json``, this project's
    OpenAPI document (service/apidoc.py), and its API page and JSON 404/405 (service/apipage.py)."""

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = super().schema()
        schema["routes"] = [*schema.get("routes", []), *client_routes()]
        return schema

    @property
    def openapi_spec(self) -> OpenAPISpecification:
        """BentoML's document, refined; handed back as BentoML's own type (its JSON view and `bentoml
        build` call methods on it), which keeps every key of the dict."""
        document = apidoc.refine(super().openapi_spec.asdict(), apidoc.project_info(self._bento_version()))
        return bentoml_cattr.structure(document, OpenAPISpecification)

    def to_asgi(self, is_main: bool = True) -> Any:
        """The app BentoML builds (each worker calls this), with the API page and JSON 404/405."""
        app = super().to_asgi(is_main)
        apipage.install(app, self._bento_version(), is_main)
        return app

    def _bento_version(self) -> str | None:
        """The bento's version when serving a built bento (None under `bentoml serve .`)."""
        return self.bento.tag.version if self.bento is not None else None
