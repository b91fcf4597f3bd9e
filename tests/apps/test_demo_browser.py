"""The demo in a real browser: headless Chromium (Debian's) driven by Playwright, against the app on 127.0.0.1.

Needs gradio, playwright (the Python package) and /usr/bin/chromium; CI installs them (`.ci/run` sets
VIDEOREFER_REQUIRE_BROWSER=1, so there they cannot be skipped). A screenshot is kept in $VIDEOREFER_ARTIFACTS
(default: the test's temporary folder).
"""

import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urljoin

import pytest
import torch
from test_sam2_tracking import IMAGE_SIZE, tiny_sam2_video_config
from transformers import AutoModelForImageTextToText, AutoProcessor, Sam2VideoModel

import transformers_videorefer  # noqa: F401
from transformers_videorefer.apps.demo import DemoSession, build_demo
from transformers_videorefer.apps.sam2_tracking import Sam2Tracker, build_torch_sam2_processor

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the test server
CLIP = Path(__file__).resolve().parents[2] / "examples" / "data" / "rolling_ball.mp4"  # 24 frames, 160 x 120
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _requirements_missing() -> str | None:
    try:
        import gradio  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed (pip install 'transformers-videorefer[demo]' playwright)"
    if not os.path.exists(CHROMIUM):
        return "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def served_demo(golden_checkpoint):
    missing = _requirements_missing()
    if missing:
        if os.environ.get("VIDEOREFER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test is required here but {missing}")
        pytest.skip(missing)
    torch.manual_seed(0)
    tracker = Sam2Tracker(Sam2VideoModel(tiny_sam2_video_config()).eval(), build_torch_sam2_processor(IMAGE_SIZE))
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint).eval()
    # the template: its models are shared by every browser tab, each tab getting a session of its own
    template = DemoSession(model, AutoProcessor.from_pretrained(golden_checkpoint), tracker, max_new_tokens=6)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_demo(template)
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False)
    yield f"http://127.0.0.1:{port}/", template
    app.close()


def _text(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea").input_value()


def _wait_for_text(page, elem_id: str, expected: str, timeout: int = 60_000) -> None:
    """Wait until the textbox `elem_id` holds exactly `expected`."""
    page.wait_for_function(
        "([id, text]) => { const box = document.querySelector(`#${id} textarea`); return box && box.value === text; }",
        arg=[elem_id, expected],
        timeout=timeout,
    )


def _open(browser, url: str):
    """A new browser context (its own cookies and Gradio session) with the demo loaded in a page."""
    page = browser.new_context(viewport={"width": 1200, "height": 1600}).new_page()
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.locator("#media input[type=file]").wait_for(state="attached", timeout=60_000)
    return page


def _upload(page) -> None:
    page.locator("#media input[type=file]").set_input_files(str(CLIP))
    page.wait_for_function(
        "() => (document.querySelector('#status textarea')?.value ?? '').includes('24 frame')",
        timeout=60_000,
    )
    page.locator("#view img").wait_for(state="visible", timeout=30_000)


def _click_frame(page, x: float, y: float, objects_after: str) -> None:
    """Click (x, y) of the 160 x 120 frame shown; wait for the new mask and the object list `objects_after`."""
    image = page.locator("#view img")
    before = image.get_attribute("src")
    box = image.bounding_box()
    page.mouse.click(box["x"] + box["width"] * x / 160, box["y"] + box["height"] * y / 120)
    _wait_for_text(page, "objects", objects_after)
    page.wait_for_function(f"() => document.querySelector('#view img').src !== {before!r}", timeout=30_000)


def _download_masks(page, url: str) -> list[dict]:
    """Press "Download masks" (the page's first download) and fetch the JSON file the page then links to."""
    link = page.locator("#masks a[href*='videorefer_masks.json']")
    assert link.count() == 0
    page.locator("#download").click()
    link.first.wait_for(state="attached", timeout=30_000)
    response = page.request.get(urljoin(url, link.first.get_attribute("href")))
    assert response.ok, response.status
    return json.loads(response.body())


def test_upload_click_ask_in_chromium(served_demo, tmp_path):
    from playwright.sync_api import sync_playwright

    url, template = served_demo
    artifacts = Path(os.environ.get("VIDEOREFER_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = _open(browser, url)
        _upload(page)
        _click_frame(page, 20, 75, "object 1: mask on frame 0")  # the ball is at (20, 75) of frame 0
        assert "mask on frame 0" in _text(page, "status")
        page.locator("#ask").click()
        page.wait_for_function(
            "() => document.querySelector('#answer textarea').value.length > 0", timeout=120_000
        )
        answer = _text(page, "answer")
        page.screenshot(path=str(artifacts / "demo.png"), full_page=True)
        masks = _download_masks(page, url)  # the server's own record of this tab's session
        browser.close()
    assert answer.strip()
    assert len(masks) == 1 and list(masks[0]) == ["0"]  # the click made a SAM2 mask on frame 0
    assert masks[0]["0"]["size"] == [120, 160]
    assert template.objects == []  # the tab worked on its own session, not on the shared template
    assert (artifacts / "demo.png").stat().st_size > 10_000


def test_two_browser_clients_keep_separate_objects(served_demo, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.chdir(tmp_path)  # downloads must not land in the working directory
    url, template = served_demo
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        first = _open(browser, url)  # client A marks the ball
        _upload(first)
        _click_frame(first, 20, 75, "object 1: mask on frame 0")

        second = _open(browser, url)  # client B starts with nothing of A's
        assert _text(second, "objects") == "" and _text(second, "status") == ""
        assert second.locator("#view img").count() == 0
        assert second.locator("#masks a").count() == 0
        _upload(second)
        assert _text(second, "objects") == "object 1: no mask yet"
        _click_frame(second, 120, 45, "object 1: mask on frame 0")
        second.locator("#add-object").click()
        _wait_for_text(second, "status", "marking object 2")
        _click_frame(second, 60, 100, "object 1: mask on frame 0\nobject 2: mask on frame 0")
        masks_b = _download_masks(second, url)

        # A's objects are as A left them: on its page, in its server-side session (its download, which also re-sends
        # its object list) and for its question
        assert _text(first, "objects") == "object 1: mask on frame 0"
        masks_a = _download_masks(first, url)
        assert _text(first, "objects") == "object 1: mask on frame 0"
        first.locator("#ask").click()  # one [<region>] for A's one object: B's two objects would make this fail
        first.wait_for_function(
            "() => document.querySelector('#answer textarea').value.length > 0", timeout=120_000
        )
        assert _text(second, "answer") == ""
        browser.close()
    assert len(masks_a) == 1 and list(masks_a[0]) == ["0"]
    assert len(masks_b) == 2 and [list(obj) for obj in masks_b] == [["0"], ["0"]]
    assert masks_b[0] != masks_a[0] or masks_b[1] != masks_a[0]
    assert template.objects == []
    assert list(tmp_path.iterdir()) == []
