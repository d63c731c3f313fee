"""The page's routes and the plot route, in-process, around a stand-in for the loaded models: security
headers, only the listed files, the JSON error shape, and no CORS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import ServingSettings
from service.ui import routes as ui

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16  # the route sends the bytes as they are


class StandIn:
    """The part of a LoadedModel the plot route uses: plot files listed in the metadata."""

    def __init__(self, folder: Path, listed: list[str]) -> None:
        self.folder, self.listed = folder, listed

    def plot_path(self, file: str) -> Path | None:
        path = self.folder / "plots" / file
        return path if file in self.listed and path.is_file() else None


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.png").write_bytes(PNG)
    (tmp_path / "plots" / "unlisted.png").write_bytes(PNG)
    (tmp_path / "weights.safetensors").write_bytes(b"secret")
    model = SimpleNamespace(loaded=StandIn(tmp_path, ["loss.png"]))
    service = SimpleNamespace(runtimes={"digits-cnn": model}, ready=True)
    monkeypatch.setattr(ui, "current_service", lambda: service)
    with TestClient(create_app(ServingSettings()), raise_server_exceptions=False) as test_client:
        yield test_client


def assert_safe_headers(headers: dict[str, str] | object) -> None:
    assert isinstance(headers, dict) or hasattr(headers, "get")
    policy = headers.get("content-security-policy", "")  # type: ignore[union-attr]
    assert "default-src 'none'" in policy
    for directive in (
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "*" not in policy
    assert headers.get("x-content-type-options") == "nosniff"  # type: ignore[union-attr]
    assert headers.get("referrer-policy") == "no-referrer"  # type: ignore[union-attr]


def test_the_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/ui")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_safe_headers(response.headers)
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("name", sorted(ui.ASSETS))
def test_every_asset_is_served_with_its_type_and_the_headers(client: TestClient, name: str) -> None:
    response = client.get(f"/ui/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == ui.ASSETS[name]
    assert response.content == (ui.STATIC / name).read_bytes()
    assert_safe_headers(response.headers)


def test_the_page_loads_only_its_own_files_and_nothing_inline() -> None:
    """What the policy relies on: no inline script, style or handler, and every file it names is served."""
    page = (ui.STATIC / ui.PAGE).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script"
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)
    named = set(re.findall(r'(?:src|href)="ui/([^"]+)"', page))
    assert named
    assert named <= set(ui.ASSETS)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page), "a file from elsewhere"
    for script in ui.STATIC.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"https?://", text), script.name
        imported = set(re.findall(r'from "\./([^"]+)"', text))
        assert imported <= set(ui.ASSETS), script.name
    served = {path.name for path in ui.STATIC.iterdir()}
    assert served == set(ui.ASSETS), "a file in static/ that is not served, or the other way round"


def test_the_page_with_a_slash_redirects_to_it(client: TestClient) -> None:
    response = client.get("/ui/", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "../ui"


@pytest.mark.parametrize(
    "path", ["/ui/routes.py", "/ui/..%2Froutes.py", "/ui/%2E%2E%2F__init__.py", "/ui/nope.js"]
)
def test_only_the_page_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert "import" not in response.text


def test_a_listed_plot_is_served_as_png(client: TestClient) -> None:
    response = client.get("/models/digits-cnn/plots/loss.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG
    assert_safe_headers(response.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/models/digits-cnn/plots/unlisted.png",
        "/models/digits-cnn/plots/weights.safetensors",
        "/models/digits-cnn/plots/..%2Fweights.safetensors",
        "/models/digits-cnn/plots/%2E%2E%2F%2E%2E%2Fweights.safetensors",
        "/models/no-such-model/plots/loss.png",
        "/models/tabular-classifier/plots/loss.png",
    ],
)
def test_anything_else_is_a_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "not_found"
    assert isinstance(body["detail"], str)
    assert b"secret" not in response.content


def test_the_api_grants_no_cross_origin_access(client: TestClient) -> None:
    headers = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    for response in (client.options("/classify", headers=headers), client.get("/ui", headers=headers)):
        assert "access-control-allow-origin" not in response.headers
