"""The prediction routes' short way in (service/fastpath.py): which requests take it, what they get,
and that the app still routes everything else (and lists the prediction routes) through FastAPI."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from service.app import create_app, prediction_routes
from service.errors import ApiError, error_response
from service.fastpath import PredictionRoutes
from service.settings import ServingSettings


async def short(request: Request) -> Response:
    if request.query_params.get("fail"):
        raise ApiError("invalid_shape", "refused on the short way")
    return PlainTextResponse(f"short {len(await request.body())}")


async def form(request: Request) -> Response:
    raise HTTPException(status_code=400, detail="what Starlette's form parser raises")


async def routed(request: Request) -> Response:
    return PlainTextResponse(f"routed {request.method} {request.url.path}")


def refuse(request: Request, error: ApiError) -> Response:
    return error_response(error.code, f"{request.url.path}: {error.detail}")


async def refuse_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return error_response("invalid_body", f"{request.url.path}: {error.detail}")


def client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/predict", routed, methods=["GET", "POST"]),
            Route("/predict/", routed, methods=["POST"]),
            Route("/other", routed, methods=["POST"]),
        ]
    )
    return TestClient(PredictionRoutes(app, {"/predict": short, "/form": form}, refuse, refuse_http))


def test_a_post_to_a_prediction_route_skips_the_router() -> None:
    answer = client().post("/predict", content=b"12345")
    assert (answer.status_code, answer.text) == (200, "short 5")


def test_an_api_error_gets_the_refusal() -> None:
    answer = client().post("/predict?fail=1")
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid_shape", "detail": "/predict: refused on the short way"}


def test_an_http_exception_gets_the_apps_answer_not_a_500() -> None:
    answer = client().post("/form")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "/form: what Starlette's form parser raises"


def test_other_methods_paths_and_trailing_slashes_go_to_the_app() -> None:
    with client() as http:
        assert http.get("/predict").text == "routed GET /predict"
        assert http.post("/predict/").text == "routed POST /predict/"
        assert http.post("/other").text == "routed POST /other"


def test_the_app_takes_every_prediction_route_the_short_way_and_still_lists_it() -> None:
    app = create_app(ServingSettings())
    layers: list[object] = [m.cls for m in app.user_middleware]
    shortcuts = app.user_middleware[-1].kwargs["routes"]
    assert isinstance(shortcuts, dict)
    expected = {path for path, method, _, _ in prediction_routes() if method == "POST"}
    assert set(shortcuts) == expected
    assert {"/classify", "/digits", "/digits/image"} <= expected
    listed = {route.path for route in app.routes}  # type: ignore[attr-defined]
    assert expected <= listed  # for the OpenAPI document and the 405s of other methods
    # innermost of the app's own layers: the shedder and the V2 error shape wrap it
    assert layers[-1] is PredictionRoutes
