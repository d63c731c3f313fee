"""The page at /ui in headless Chromium against a real `bentoml serve`: what a person sees agrees with
what the API answers, nothing leaves the origin, errors are words, and a phone's width is enough.
Screenshots of each state: reports/ui/."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from load.server import ServerProcess
from tests.helpers import REPO
from tests.ui.conftest import Watched

pytestmark = pytest.mark.slow

DIGIT_7 = REPO / "load" / "data" / "digit-7.png"
ANSWERED = "#digit-result[data-state=ready]:not([data-pending])"
FAILED = "#digit-result[data-state=error]:not([data-pending])"
# A seven: the top bar, then the diagonal (pad coordinates, 0..256).
SEVEN = [[(60, 50), (190, 50)], [(190, 50), (150, 130), (115, 215)]]
ROW = [0.42, -1.3, 0.8, 2.1, -0.5, 0.0, 1.7, -2.2, 0.3, 0.9]


def api(server: ServerProcess, method: str, path: str, **options: Any) -> Any:
    response = httpx.request(method, server.url + path, timeout=30, **options)
    assert response.status_code == 200, response.text
    return response.json()


def draw_with_mouse(watched: Watched, strokes: list[list[tuple[int, int]]]) -> None:
    page = watched.page
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 256
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=10)
        page.mouse.up()


def draw_with_pointer(watched: Watched, strokes: list[list[tuple[int, int]]], kind: str) -> None:
    """Synthetic pointer events of ``kind`` ("touch" or "pen"), as a finger or stylus sends them."""
    watched.page.evaluate(
        """([strokes, kind]) => {
            const pad = document.getElementById("pad");
            const box = pad.getBoundingClientRect();
            const scale = box.width / 256;
            const send = (type, [x, y]) => pad.dispatchEvent(new PointerEvent(type, {
                bubbles: true, cancelable: true, pointerId: 7, pointerType: kind, isPrimary: true,
                button: type === "pointermove" ? -1 : 0, buttons: type === "pointerup" ? 0 : 1,
                clientX: box.left + x * scale, clientY: box.top + y * scale, pressure: 0.5,
            }));
            for (const stroke of strokes) {
                send("pointerdown", stroke[0]);
                for (let i = 1; i < stroke.length; i++) {
                    const [x0, y0] = stroke[i - 1], [x1, y1] = stroke[i];
                    for (let step = 1; step <= 10; step++)
                        send("pointermove", [x0 + ((x1 - x0) * step) / 10, y0 + ((y1 - y0) * step) / 10]);
                }
                send("pointerup", stroke[stroke.length - 1]);
            }
        }""",
        [strokes, kind],
    )


def drop_file(watched: Watched, data: bytes, name: str, media_type: str) -> None:
    """A file dropped on the drop zone, as a drag from the desktop delivers it."""
    watched.page.evaluate(
        """([encoded, name, type]) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            const zone = document.getElementById("drop");
            zone.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: transfer }));
            zone.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: transfer }));
        }""",
        [base64.b64encode(data).decode(), name, media_type],
    )


def shown_answer(watched: Watched) -> tuple[int, list[float], Any]:
    """The top label, the 10 bars' probabilities and the 8x8 picture the page shows."""
    page = watched.page
    page.wait_for_selector(ANSWERED, timeout=15_000)
    bars = page.eval_on_selector_all(
        "#digit-bars li", "items => items.map(i => Number(i.dataset.probability))"
    )
    inputs = page.eval_on_selector("#seen", "canvas => canvas.dataset.inputs")
    return int(page.inner_text("#digit-label")), bars, json.loads(inputs) if inputs else None


def assert_same_answer(shown: tuple[int, list[float], Any], answer: dict[str, Any]) -> None:
    label, bars, inputs = shown
    assert label == answer["labels"][0]
    assert len(bars) == 10
    assert bars == pytest.approx(answer["probabilities"][0], abs=1e-6)
    assert inputs == answer["inputs"][0], "the page shows another 8x8 picture than the one the model saw"


def test_the_page_loads_offline_with_every_control_labelled(server: ServerProcess, open_page: Any) -> None:
    watched = open_page(f"{server.url}/ui")
    page = watched.page
    page.wait_for_selector(".card >> nth=1")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("button, input, textarea, select, canvas#pad")]
            .filter((control) => !(control.labels && control.labels.length) && !control.getAttribute("aria-label")
                && !control.textContent.trim())
            .map((control) => control.id || control.outerHTML.slice(0, 60))"""
    )
    assert unlabelled == []
    reached = []
    for _ in range(40):  # the keyboard alone reaches every control of the page
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id"))
    for control in (
        "pad",
        "undo",
        "clear",
        "file",
        "feature-0",
        "feature-9",
        "random-row",
        "csv",
        "random-rows",
    ):
        assert control in reached
    watched.shot("page")
    assert watched.errors == []
    assert watched.outside == []


def test_drawing_shows_what_the_api_answers_for_the_same_picture(
    server: ServerProcess, open_page: Any
) -> None:
    watched = open_page(f"{server.url}/ui")
    draw_with_mouse(watched, SEVEN[:1])
    draw_with_pointer(watched, SEVEN[1:], "pen")
    shown = shown_answer(watched)
    drawn = base64.b64decode(
        watched.page.evaluate("document.getElementById('pad').toDataURL('image/png')")[22:]
    )
    answer = api(server, "POST", "/digits/image?explain=1", files={"image": ("pad.png", drawn, "image/png")})
    assert_same_answer(shown, answer)
    assert shown[0] == 7
    # The 8x8 picture on the page, sent as numbers, gets the same probabilities as the bars.
    again = api(server, "POST", "/digits", json={"images": [shown[2]]})
    assert shown[1] == pytest.approx(again["probabilities"][0], abs=1e-5)
    watched.shot("digits-drawn")
    watched.page.click("#undo")
    watched.page.wait_for_selector(ANSWERED)
    watched.page.click("#clear")
    watched.page.wait_for_selector("#digit-result[data-state=empty]")
    assert watched.page.inner_text("#digit-label") == ""
    assert watched.errors == []
    assert watched.outside == []


def test_dropping_or_choosing_digit_7_shows_7(server: ServerProcess, open_page: Any) -> None:
    watched = open_page(f"{server.url}/ui")
    answer = api(
        server,
        "POST",
        "/digits/image?explain=1",
        files={"image": ("7.png", DIGIT_7.read_bytes(), "image/png")},
    )
    drop_file(watched, DIGIT_7.read_bytes(), "digit-7.png", "image/png")
    shown = shown_answer(watched)
    assert shown[0] == 7
    assert_same_answer(shown, answer)
    assert watched.page.is_visible("#preview")
    watched.shot("digits-dropped")
    watched.page.click("#clear")
    watched.page.set_input_files("#file", str(DIGIT_7))
    assert shown_answer(watched)[0] == 7
    assert watched.errors == []
    assert watched.outside == []


def huge_png() -> bytes:
    """A blank picture over the 4096x4096 pixel limit, small as a file."""
    buffer = io.BytesIO()
    Image.new("1", (5000, 4000)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_errors_are_shown_in_words(server: ServerProcess, open_page: Any) -> None:
    watched = open_page(f"{server.url}/ui")
    page = watched.page
    page.wait_for_selector(".card")
    drop_file(watched, b"this is not a picture", "notes.png", "image/png")
    page.wait_for_selector(FAILED)
    assert "The input was refused" in page.inner_text("#digit-error")
    assert "(invalid_image)" not in page.inner_text("#digit-error")  # words, not codes
    watched.shot("error-422-bad-file")
    drop_file(watched, huge_png(), "huge.png", "image/png")
    page.wait_for_function("() => document.getElementById('digit-error').textContent.startsWith('Too large')")
    watched.shot("error-413-too-large")

    page.fill("#csv", "1,2,3\n")
    page.click("#csv-form button[type=submit]")
    assert "Line 1 has 3 values" in page.inner_text("#csv-error")
    page.fill("#csv", "\n".join(",".join(["0.5"] * 10) for _ in range(1100)))
    page.click("#csv-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('csv-error').textContent.startsWith('Too large')")
    watched.shot("error-413-too-many-rows")

    # While the models load, the page says so and tries again (the answer is held back once).
    refused = {"count": 0}

    def loading(route: Any) -> None:
        if refused["count"]:
            route.continue_()
            return
        refused["count"] += 1
        body = json.dumps({"error": "not_ready", "detail": "the models are still loading; retry shortly"})
        route.fulfill(status=503, body=body, content_type="application/json", headers={"Retry-After": "1"})

    loading_page = open_page(f"{server.url}/ui")
    loading_page.page.route("**/models", loading)
    loading_page.page.reload()
    loading_page.page.wait_for_function(
        "() => document.getElementById('cards-error').textContent.includes('still loading')"
    )
    loading_page.shot("error-503-loading")
    loading_page.page.wait_for_selector(".card >> nth=1", timeout=15_000)
    assert loading_page.page.is_hidden("#cards-error")


def test_the_tabular_form_and_rows_answer_what_classify_answers(
    server: ServerProcess, open_page: Any
) -> None:
    watched = open_page(f"{server.url}/ui")
    page = watched.page
    for index, value in enumerate(ROW):
        page.fill(f"#feature-{index}", str(value))
    page.click("#row-form button[type=submit]")
    page.wait_for_selector("#row-form[data-probability]")
    answer = api(server, "POST", "/classify", json={"rows": [ROW]})
    assert float(page.get_attribute("#row-form", "data-probability")) == pytest.approx(
        answer["probabilities"][0]
    )
    assert page.inner_text("#row-label") == f"class {answer['labels'][0]}"

    before = page.get_attribute("#row-form", "data-probability")
    page.click("#random-row")
    page.wait_for_function(
        "(before) => document.getElementById('row-form').dataset.probability !== before", arg=before
    )
    drawn = [float(page.input_value(f"#feature-{index}")) for index in range(10)]
    assert drawn != ROW
    answer = api(server, "POST", "/classify", json={"rows": [drawn]})
    assert float(page.get_attribute("#row-form", "data-probability")) == pytest.approx(
        answer["probabilities"][0]
    )

    rows = [ROW, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [-1.5] * 10]
    page.fill("#csv", "a,b,c,d,e,f,g,h,i,j\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    page.click("#csv-form button[type=submit]")
    page.wait_for_selector("#answers:not([hidden])")
    answer = api(server, "POST", "/classify", json={"rows": rows})
    shown = page.eval_on_selector_all(
        "#answers tbody tr", "lines => lines.map(l => Number(l.dataset.probability))"
    )
    assert shown == pytest.approx(answer["probabilities"])
    watched.shot("tabular")
    with page.expect_download() as download:
        page.click("#download")
    lines = download.value.path().read_text().strip().splitlines()
    assert lines[0].endswith("probability,label")
    assert [int(line.rsplit(",", 1)[1]) for line in lines[1:]] == answer["labels"]
    assert [float(line.split(",")[10]) for line in lines[1:]] == pytest.approx(answer["probabilities"])
    assert watched.errors == []
    assert watched.outside == []


def test_each_model_card_shows_its_metrics_and_plots(server: ServerProcess, open_page: Any) -> None:
    models = api(server, "GET", "/models")
    watched = open_page(f"{server.url}/ui")
    page = watched.page
    page.wait_for_selector(".card >> nth=1")
    for model in models:
        card = page.locator(f".card[data-model='{model['name']}']")
        text = card.inner_text()
        assert model["version"] in text
        assert model["device"] in text
        assert model["data"]["sha256"] in text
        for name, value in model["metrics"].items():
            if isinstance(value, float):
                assert card.locator(f"td[data-metric='{name}']").inner_text() == f"{value:.4f}"
        assert model["plots"], "training saved no plots with the model"
        card.locator("img").last.scroll_into_view_if_needed()
        page.wait_for_function(
            """(name) => [...document.querySelectorAll(`.card[data-model='${name}'] img`)]
                .every((image) => image.complete && image.naturalWidth > 0)""",
            arg=model["name"],
        )
        assert card.locator("img").count() == len(model["plots"])
        for url in model["plots"]:
            response = httpx.get(server.url + url, timeout=30)
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
    watched.page.locator("#models").scroll_into_view_if_needed()
    watched.shot("model-cards")
    assert watched.errors == []
    assert watched.outside == []


def test_a_phone_width_needs_no_sideways_scrolling(server: ServerProcess, open_page: Any) -> None:
    watched = open_page(f"{server.url}/ui", width=390, height=844, is_mobile=True, has_touch=True)
    page = watched.page
    page.wait_for_selector(".card >> nth=1")
    draw_with_pointer(watched, SEVEN, "touch")
    assert shown_answer(watched)[0] == 7
    page.fill("#csv", "\n".join(",".join(map(str, ROW)) for _ in range(3)))
    page.click("#csv-form button[type=submit]")
    page.wait_for_selector("#answers:not([hidden])")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] <= 390, f"the page scrolls sideways: {widths}"
    page.evaluate("window.scrollTo(0, 0)")
    watched.shot("phone-digits", full_page=False)
    page.locator("#tabular").scroll_into_view_if_needed()
    watched.shot("phone-tabular", full_page=False)
    page.locator("#models").scroll_into_view_if_needed()
    watched.shot("phone-cards", full_page=False)
    assert watched.errors == []
    assert watched.outside == []
