"""The demo in a real browser: headless Chromium (Debian's) driven by Playwright, against the app on 127.0.0.1.

Needs gradio, playwright (the Python package) and /usr/bin/chromium; CI installs them (`.ci/run` sets
VIDEOREFER_REQUIRE_BROWSER=1, so there they cannot be skipped). A screenshot is kept in $VIDEOREFER_ARTIFACTS
(default: the test's temporary folder).
"""

import os
import shutil
import socket
from pathlib import Path

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
    session = DemoSession(model, AutoProcessor.from_pretrained(golden_checkpoint), tracker, max_new_tokens=6)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_demo(session)
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False)
    yield f"http://127.0.0.1:{port}/", session
    app.close()


def _text(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea").input_value()


def test_upload_click_ask_in_chromium(served_demo, tmp_path):
    from playwright.sync_api import sync_playwright

    url, session = served_demo
    artifacts = Path(os.environ.get("VIDEOREFER_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        page.locator("#media input[type=file]").set_input_files(str(CLIP))
        page.wait_for_function(
            "() => document.querySelector('#status textarea') && document.querySelector('#status textarea').value.includes('24 frame')",
            timeout=60_000,
        )
        image = page.locator("#view img")
        image.wait_for(state="visible", timeout=30_000)
        before = image.get_attribute("src")
        box = image.bounding_box()
        # the ball is at (20, 75) of the 160 x 120 frame 0
        page.mouse.click(box["x"] + box["width"] * 20 / 160, box["y"] + box["height"] * 75 / 120)
        page.wait_for_function(
            "() => document.querySelector('#status textarea').value.includes('mask on frame 0')", timeout=60_000
        )
        page.wait_for_function(f"() => document.querySelector('#view img').src !== {before!r}", timeout=30_000)
        page.locator("#ask").click()
        page.wait_for_function(
            "() => document.querySelector('#answer textarea').value.length > 0", timeout=120_000
        )
        answer = _text(page, "answer")
        page.screenshot(path=str(artifacts / "demo.png"), full_page=True)
        browser.close()
    assert answer.strip()
    assert session.objects[0].masks and 0 in session.objects[0].masks  # the click made a SAM2 mask on frame 0
    assert (artifacts / "demo.png").stat().st_size > 10_000
