"""The OpenAPI document (``/docs.json``) as this project tells it, made from the one BentoML builds.

BentoML's ``generate_spec`` merges the mounted FastAPI app's paths and schemas with its own health routes,
and adds what this service does not have: its stock description (badges loaded from the internet, Slack
and Twitter links), the version ``"None"`` under ``bentoml serve .``, an empty "Service APIs" section,
schemas of task and exception types no route uses, and the JSON Schema 2020 forms pydantic writes
(``examples`` lists, ``{"type": "null"}``) in a document that declares OpenAPI 3.0, where they are invalid
and Swagger UI ignores them. ``refine`` rewrites the plain dict, and ServingService (service/clients.py)
hands the result back to BentoML as its specification object, so ``/docs.json`` and the bento's copy agree.
"""

from __future__ import annotations

import copy
import importlib.metadata
from collections.abc import Iterator
from typing import Any

Document = dict[str, Any]

PROJECT = "bento-serving"
V2_PREFIX = "/v2"
TAGS = {
    "api": {
        "name": "Predictions",
        "description": "The models' JSON API: predictions, image uploads and the loaded models' metadata",
    },
    "v2": {
        "name": "Open Inference Protocol V2",
        "description": "The same models for Triton's and KServe's clients (JSON or binary tensors)",
    },
    "health": {"name": "Health and metrics", "description": "Liveness, readiness and Prometheus metrics"},
}
BENTOML_INFRA_TAG = "Infrastructure"


def project_info(bento_version: str | None = None) -> dict[str, str]:
    """Title, version and summary of the installed project; inside a bento, where the project is source
    files and not an installed distribution, the bento's version."""
    try:
        meta = importlib.metadata.metadata(PROJECT)
        return {"title": meta["Name"], "version": meta["Version"], "summary": meta["Summary"]}
    except importlib.metadata.PackageNotFoundError:
        summary = "Two small PyTorch models served over batched HTTP."
        return {"title": PROJECT, "version": bento_version or "unknown", "summary": summary}


def description(summary: str) -> str:
    """The page's introduction (Markdown): relative links only, nothing loaded from elsewhere."""
    return "\n".join(
        [
            summary,
            "",
            "- **Predictions**: `POST /classify` (rows of 10 numbers), `POST /digits` (8x8 grey images, "
            "levels 0..16), `POST /digits/image` (a PNG or JPEG upload); `GET /models` lists what is loaded.",
            "- **Open Inference Protocol V2** under `/v2`, for Triton's and KServe's clients.",
            "- **Health and metrics**: `/livez`, `/readyz`, `/metrics` (Prometheus).",
            "",
            "Try a digit or a row in the browser on [the demo page](./ui). Every refusal is JSON: "
            '`{"error": <code>, "detail": <what was wrong>}` (under `/v2`: `{"error": <message>, '
            '"code": <code>}`); each endpoint below lists the codes it can answer. '
            "The raw document: [docs.json](./docs.json).",
        ]
    )


def refine(document: Document, info: dict[str, str]) -> Document:
    """``document`` (BentoML's, as a dict) with this project's info, one named section per group of
    routes, only the schemas the routes use, and OpenAPI 3.0 schema forms."""
    refined = copy.deepcopy(document)
    refined["info"] = {
        "title": info["title"],
        "version": info["version"],
        "description": description(info["summary"]),
    }
    used_tags = _tag_operations(refined["paths"])
    _describe_readiness(refined["paths"])
    refined["tags"] = [tag for tag in TAGS.values() if tag["name"] in used_tags]
    for schema in _schemas(refined):
        _to_openapi_30(schema)
    schemas = refined.get("components", {}).get("schemas", {})
    used = _referenced(refined["paths"], schemas)
    refined.setdefault("components", {})["schemas"] = {
        name: schemas[name] for name in schemas if name in used
    }
    return refined


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _tag_operations(paths: dict[str, Any]) -> set[str]:
    """Every operation in its section: /v2 in the protocol's, BentoML's health routes in theirs, the
    rest (the JSON API) in Predictions. Returns the sections used."""
    used = set()
    for path, _, operation in operations({"paths": paths}):
        if path == V2_PREFIX or path.startswith(V2_PREFIX + "/"):
            tag = TAGS["v2"]["name"]
        elif BENTOML_INFRA_TAG in operation.get("tags", ()):
            tag = TAGS["health"]["name"]
        else:
            tag = TAGS["api"]["name"]
        operation["tags"] = [tag]
        used.add(tag)
    return used


def _describe_readiness(paths: dict[str, Any]) -> None:
    """BentoML's /readyz, with what this service adds to it (service/readiness.py)."""
    ready = paths.get("/readyz", {}).get("get", {}).get("responses", {}).get("200")
    if ready is None:
        return
    ready["description"] = "Ready: every model is loaded and warmed up, and the worker is not draining."
    ready["headers"] = {
        "X-Served-Versions": {
            "description": "The version each model's plain routes answer with, in the worker that "
            "answered: `tabular-classifier:<version>, digits-cnn:<version>`.",
            "schema": {"type": "string"},
        }
    }


def _schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the document that sits where a schema does, found by walking all of it (a schema
    is any dict under a "schema" key or in components.schemas, and the schemas nested inside them)."""
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        item, is_schema = stack.pop()
        if isinstance(item, dict):
            if is_schema:
                yield item
            for key, value in item.items():
                if key == "schema":
                    stack.append((value, True))
                elif (key == "schemas" and not is_schema) or (is_schema and key in ("properties", "$defs")):
                    stack.extend((schema, True) for schema in value.values())
                elif is_schema and key in ("items", "additionalProperties", "not"):
                    stack.append((value, True))
                elif is_schema and key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                    stack.extend((schema, True) for schema in value)
                elif not is_schema:
                    stack.append((value, False))
        elif isinstance(item, list) and not is_schema:
            stack.extend((value, False) for value in item)


def _to_openapi_30(schema: dict[str, Any]) -> None:
    """JSON Schema 2020 forms that pydantic writes, in their OpenAPI 3.0 spelling (in place)."""
    examples = schema.pop("examples", None)
    if isinstance(examples, list) and examples and "example" not in schema:
        schema["example"] = examples[0]  # OpenAPI 3.0 (and Swagger UI) read the singular form
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    for bound in ("Minimum", "Maximum"):
        exclusive = schema.get(f"exclusive{bound}")
        if isinstance(exclusive, int | float) and not isinstance(exclusive, bool):
            schema[bound.lower()] = exclusive
            schema[f"exclusive{bound}"] = True
    variants = schema.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        others = [variant for variant in variants if variant != {"type": "null"}]
        del schema["anyOf"]
        schema["nullable"] = True
        if len(others) == 1 and "$ref" not in others[0]:
            schema.update({key: value for key, value in others[0].items() if key not in schema})
        elif len(others) == 1:
            schema["allOf"] = others
        else:
            schema["anyOf"] = others


def _referenced(paths: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas that the paths use, directly or through other schemas."""
    prefix = "#/components/schemas/"
    found: set[str] = set()
    pending = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref[len(prefix) :]
                if name not in found and name in schemas:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
