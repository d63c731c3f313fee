"""The API page at / and the OpenAPI document at /docs.json, as a new user meets them on a real
`bentoml serve`: the project's own title and version, nothing loaded from elsewhere, one named section
per group of routes, only schemas that exist, examples that the endpoints answer, each endpoint's own
errors; and the JSON 404 and 405 of paths and methods no route takes."""

from __future__ import annotations

import importlib.metadata
import json
import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import TypeAdapter

from load.server import ServerProcess
from service import apidoc
from service.errors import STATUS
from service.schemas import EXAMPLE_DIGIT_CLASS, EXAMPLE_ROW_CLASSES, MODELS_EXAMPLE, ModelInfo
from tests.helpers import chromium_path

PROJECT_VERSION = importlib.metadata.version("bento-serving")


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/docs.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


def examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(path, method, example body) of every JSON request example in the document."""
    found = []
    for path, method, operation in apidoc.operations(spec):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" in media:
            found.append((path, method, media["example"]))
    return found


@pytest.mark.slow
def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises with the first violation
    assert document["openapi"].startswith("3.0")


@pytest.mark.slow
def test_every_example_in_the_document_is_answered(server: ServerProcess, document: dict[str, Any]) -> None:
    found = examples(document)
    posted = {path for path, _, _ in found}
    assert {
        "/classify",
        "/digits",
        "/v2/models/tabular-classifier/infer",
        "/v2/models/digits-cnn/infer",
    } <= posted
    for path, method, body in found:
        answer = httpx.request(method.upper(), f"{server.url}{path}", json=body, timeout=30)
        assert answer.status_code == 200, (path, answer.text)
    # Real data, sensible answers: the rows' true classes and a 7.
    classify = dict((path, body) for path, _, body in found)["/classify"]
    assert httpx.post(f"{server.url}/classify", json=classify).json()["labels"] == EXAMPLE_ROW_CLASSES
    digits = dict((path, body) for path, _, body in found)["/digits"]
    assert httpx.post(f"{server.url}/digits", json=digits).json()["labels"] == [EXAMPLE_DIGIT_CLASS]


@pytest.mark.slow
def test_readiness_names_the_versions_it_serves(server: ServerProcess, document: dict[str, Any]) -> None:
    """/readyz (BentoML's route) carries X-Served-Versions, and the document says so."""
    documented = document["paths"]["/readyz"]["get"]["responses"]["200"]["headers"]
    assert "X-Served-Versions" in documented
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    served = dict(item.split(":") for item in ready.headers["x-served-versions"].split(", "))
    answer = httpx.post(f"{server.url}/classify", json={"rows": [[0.0] * 10]}).json()
    assert f"tabular-classifier:{served['tabular-classifier']}" == answer["model"]
    assert set(served) == {"tabular-classifier", "digits-cnn"}
    assert "x-served-versions" not in httpx.get(f"{server.url}/livez").headers  # readiness only


@pytest.mark.slow
def test_document_tells_the_project(document: dict[str, Any]) -> None:
    info = document["info"]
    assert info["title"] == "bento-serving"
    assert info["version"] == PROJECT_VERSION
    assert "contact" not in info
    text = json.dumps(document)
    for boilerplate in ("Machine Learning Service created with BentoML", "Slack", "Twitter", "badge"):
        assert boilerplate not in text
    assert "://" not in text, re.findall(r".{20}://.{20}", text)  # no link or image outside the origin
    assert "](./ui)" in info["description"]


@pytest.mark.slow
def test_every_operation_is_in_one_named_section(document: dict[str, Any]) -> None:
    names = [tag["name"] for tag in document["tags"]]
    assert names == ["Predictions", "Open Inference Protocol V2", "Health and metrics"]
    sections: dict[str, set[str]] = {}
    for path, _, operation in apidoc.operations(document):
        assert len(operation["tags"]) == 1, path
        assert operation["tags"][0] in names, path
        sections.setdefault(operation["tags"][0], set()).add(path)
    assert {"/classify", "/digits", "/digits/image", "/models"} <= sections["Predictions"]
    assert all(path.startswith("/v2") for path in sections["Open Inference Protocol V2"])
    assert {"/livez", "/readyz", "/metrics"} <= sections["Health and metrics"]


@pytest.mark.slow
def test_only_schemas_that_routes_use(document: dict[str, Any]) -> None:
    schemas = set(document["components"]["schemas"])
    text = json.dumps({"paths": document["paths"], "components": document["components"]})
    for name in schemas:
        assert f'"#/components/schemas/{name}"' in text, name
    assert not {"TaskStatusResponse", "InvalidArgument", "NotFound", "InternalServerError"} & schemas


@pytest.mark.slow
def test_each_endpoint_lists_only_its_own_errors(document: dict[str, Any]) -> None:
    def codes(path: str) -> set[str]:
        responses = document["paths"][path]["post"]["responses"]
        listed = " ".join(answer["description"] for status, answer in responses.items() if status != "200")
        return {code for code in STATUS if re.search(rf"\b{code}\b", listed)}

    assert "invalid_image" not in codes("/classify")
    assert "out_of_range" not in codes("/classify")
    assert {"invalid_shape", "not_finite", "too_many_rows", "invalid_json"} <= codes("/classify")
    assert "out_of_range" in codes("/digits")
    assert not {"too_many_rows", "invalid_json", "invalid_shape"} & codes("/digits/image")
    assert {"invalid_image", "image_too_large", "unsupported_media_type"} <= codes("/digits/image")
    for path in ("/classify", "/digits", "/digits/image"):
        for status, answer in document["paths"][path]["post"]["responses"].items():
            if status != "200":  # each status lists codes of that status only
                assert all(STATUS[code] == int(status) for code in STATUS if code in answer["description"])


@pytest.mark.slow
def test_page_is_the_projects_and_loads_only_from_the_origin(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"<title>bento-serving {PROJECT_VERSION}" in page.text
    assert "://" not in page.text
    assert "<script>" not in page.text  # settings in a script of its own (no inline script)
    assert "default-src 'none'" in page.headers["content-security-policy"]  # and only this origin
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        answer = httpx.get(f"{server.url}/{asset.removeprefix('./')}")
        assert answer.status_code == 200, asset
        if asset.endswith(".js") and "swagger-ui-bundle" not in asset:
            assert "://" not in answer.text, asset


@pytest.mark.slow
def test_page_in_a_browser(server: ServerProcess) -> None:
    """Headless Chromium: nothing requested outside the origin, no console error, and Swagger UI's
    "Try it out" sends the example rows and shows their answer."""
    from playwright import sync_api

    chromium = chromium_path()
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        page.goto(f"{server.url}/", wait_until="networkidle")
        page.wait_for_selector(".opblock-tag")
        assert "bento-serving" in page.inner_text(".info .title")
        assert PROJECT_VERSION in page.inner_text(".info .title")
        block = page.locator("#operations-Predictions-classify_classify_post")
        block.locator(".opblock-summary").click()
        block.locator("button.try-out__btn").click()
        block.locator("button.execute").click()
        answer = block.locator(".live-responses-table .response-col_description .microlight").first
        answer.wait_for()
        assert json.loads(answer.inner_text())["labels"] == EXAMPLE_ROW_CLASSES
        browser.close()
    assert all(url.startswith(server.url) for url in requests), requests
    assert not problems, problems


ROUTING = [
    # (method, path, status, Allow): BentoML's own routes, the mounted API, and no route at all
    ("GET", "/no/such/path", 404, None),
    ("POST", "/nothing-here", 404, None),
    ("GET", "/classify", 405, "POST"),
    ("PUT", "/digits/image", 405, "POST"),
    ("POST", "/models", 405, "GET"),
    ("POST", "/readyz", 405, "GET"),
    ("DELETE", "/metrics", 405, "GET"),
    ("POST", "/", 405, "GET"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "status", "allow"), ROUTING)
def test_unrouted_requests_get_the_json_error_shape(
    server: ServerProcess, method: str, path: str, status: int, allow: str | None
) -> None:
    answer = httpx.request(method, f"{server.url}{path}")
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == ("not_found" if status == 404 else "method_not_allowed")
    assert path in body["detail"]
    if allow is not None:
        assert allow in answer.headers["allow"]
        assert f"use {allow}" in body["detail"]


@pytest.mark.slow
def test_v2_paths_keep_the_protocols_error_shape(server: ServerProcess) -> None:
    missing = httpx.get(f"{server.url}/v2/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = httpx.put(f"{server.url}/v2/health/live")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    assert wrong.json() == {
        "error": "PUT is not allowed on /v2/health/live; use GET",
        "code": "method_not_allowed",
    }


def test_refine_writes_openapi_30_forms_and_drops_unused_schemas() -> None:
    original = {
        "openapi": "3.0.2",
        "info": {"title": "x", "version": "None", "description": "badges"},
        "servers": [{"url": "."}],
        "tags": [{"name": "Service APIs"}],
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/livez": {"get": {"tags": ["Infrastructure"], "responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "schemas": {
                "A": {
                    "type": "object",
                    "examples": [{"id": "a"}],
                    "properties": {
                        "id": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Id"},
                        "b": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
                        "n": {"type": "number", "exclusiveMinimum": 0},
                        "k": {"const": "x"},
                    },
                },
                "B": {"type": "integer"},
                "Unused": {"type": "string"},
            }
        },
    }
    refined = apidoc.refine(original, {"title": "t", "version": "1.2", "summary": "s"})
    assert original["info"]["version"] == "None"  # the input is left alone
    validate(refined)
    schema = refined["components"]["schemas"]["A"]
    assert schema["example"] == {"id": "a"}
    assert "examples" not in schema
    assert schema["properties"]["id"] == {"type": "string", "title": "Id", "nullable": True}
    assert schema["properties"]["b"] == {"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": True}
    assert schema["properties"]["n"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert schema["properties"]["k"] == {"enum": ["x"]}
    assert set(refined["components"]["schemas"]) == {"A", "B"}
    assert refined["paths"]["/a"]["post"]["tags"] == ["Predictions"]
    assert refined["paths"]["/livez"]["get"]["tags"] == ["Health and metrics"]
    assert refined["info"]["version"] == "1.2"


def test_refined_document_survives_bentomls_specification_type() -> None:
    """ServingService hands the dict back to BentoML as its OpenAPISpecification: nothing may be lost."""
    from bentoml._internal.service.openapi.specification import OpenAPISpecification
    from bentoml._internal.utils.cattr import bentoml_cattr

    from service.service import ModelService

    document = json.loads(json.dumps(ModelService.openapi_spec.asdict()))
    again = bentoml_cattr.structure(document, OpenAPISpecification).asdict()
    assert json.loads(json.dumps(again)) == document


def test_models_example_matches_the_answer_schema() -> None:
    TypeAdapter(list[ModelInfo]).validate_python(MODELS_EXAMPLE)
