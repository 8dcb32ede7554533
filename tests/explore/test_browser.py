"""`w2w explore` in a real headless browser (Debian's chromium, driven by Playwright): move a slider,
sample, invert an upload, download the model and load it, and refuse a text file while the server
keeps serving. Screenshots of each state go to the test's tmp dir (and, with W2W_EXPLORE_SCREENSHOT
set to a path, the edit state there: the README's picture)."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from servers import answers, free_port, serve

from w2w.base.pipeline import generate, load_pipeline

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright's own browser download is not reachable
W2W = str(Path(sys.executable).parent / "w2w")
PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


@pytest.fixture
def served(micro_space, micro_world, tmp_path, tool_env):
    """The micro space served; W2W_EXPLORE_SPACE=data serves the default pipeline's outputs instead
    (how the README's picture was taken)."""
    space = Path(os.environ.get("W2W_EXPLORE_SPACE", micro_space)).resolve()
    world, judge, steps = space / "world", space / "judge", "20"
    if space == micro_space.resolve():
        world, judge = micro_world, tmp_path / "none"  # no judge: the judged attributes are not shown
        steps = "3"  # the micro space: a grid in a blink
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = serve([W2W, "explore", "--weights", space / "weights.zarr", "--basis", space / "basis",
                    "--directions", space / "directions", "--model", space / "base" / "model",
                    "--world", world, "--judge", judge, "--params", PARAMS, "--steps", steps,
                    "--port", port], url, tmp_path / "explore.log", 180, cwd=tmp_path, env=tool_env)
    yield url, space
    server.terminate()
    server.wait(timeout=30)


SETTLED = ("() => [...document.querySelectorAll('#grid .wrap, #judged .wrap')]"  # loading overlays hidden
           ".every(w => w.classList.contains('hide'))")


def changed(page, before: str, timeout: float = 120_000) -> str:
    """Wait for a new picture in the grid, and for the page to settle; returns its address."""
    page.wait_for_function("s => (document.querySelector('#grid img') || {}).src !== s", arg=before,
                           timeout=timeout)
    page.wait_for_function(SETTLED, timeout=timeout)
    page.wait_for_timeout(500)  # the fade-in, for the screenshots
    return page.locator("#grid img").get_attribute("src")


def test_explore_in_a_real_browser(served, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"no browser at {CHROMIUM}: `apt-get install -y chromium` (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is missing")
    url, space = served
    Image.fromarray(np.full((48, 48, 3), (190, 140, 110), np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("not an image")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            outside = []  # a local app asks nothing of the internet (fonts included)
            page.on("request", lambda r: outside.append(r.url) if r.url.startswith("http")
                    and not r.url.startswith(url) else None)
            page.goto(url, timeout=120_000)
            page.locator("#show").click()
            page.locator("#grid img").wait_for(timeout=120_000)
            first = page.locator("#grid img").get_attribute("src")
            page.screenshot(path=shots / "1-identity.png")

            glasses = page.locator("#slider-Eyeglasses input[type=range]")  # one slider moved
            (glasses if glasses.count() else page.locator("[id^=slider-] input[type=range]").first).fill("12")
            edited = changed(page, first)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=shots / "2-edited.png")
            if os.environ.get("W2W_EXPLORE_SCREENSHOT"):
                shutil.copy(shots / "2-edited.png", os.environ["W2W_EXPLORE_SCREENSHOT"])

            page.locator("#seed input").fill("7")
            page.locator("#sample").click()
            sampled = changed(page, edited)
            page.get_by_text("sampled identity, seed 7").wait_for(timeout=60_000)
            page.screenshot(path=shots / "3-sampled.png")

            page.locator("#upload input[type=file]").set_input_files(tmp_path / "photo.png")
            page.locator("#steps input").fill("3")
            page.locator("#invert").click()
            changed(page, sampled)
            page.get_by_text("inverted from photo.png").wait_for(timeout=120_000)
            page.screenshot(path=shots / "4-inverted.png")

            page.locator("#download").click()
            page.locator("#files a[href$='pytorch_lora_weights.safetensors']").first.wait_for(timeout=60_000)
            for name in ("pytorch_lora_weights.safetensors", "adapter_config.json", "coefficients.json"):
                href = page.locator(f"#files a[href$='{name}']").first.get_attribute("href")
                urllib.request.urlretrieve(href, tmp_path / name)

            page.locator("#upload button[aria-label='Clear']").first.click()
            page.locator("#upload input[type=file]").set_input_files(tmp_path / "notes.txt")
            page.locator("#invert").click()
            page.get_by_text("not a readable image").first.wait_for(timeout=60_000)
            page.screenshot(path=shots / "5-refused.png")
        finally:
            browser.close()
    assert answers(url)  # still serving after the refusal
    assert not outside, outside[:5]
    assert all((shots / f).stat().st_size > 0 for f in ("1-identity.png", "2-edited.png", "4-inverted.png"))
    pipe = load_pipeline(space / "base" / "model")
    plain = generate(pipe, "sks person", 1, 0, 3, 2.0)
    (tmp_path / "downloaded").mkdir()
    for name in ("pytorch_lora_weights.safetensors", "adapter_config.json"):
        shutil.move(tmp_path / name, tmp_path / "downloaded" / name)
    pipe.load_lora_weights(str(tmp_path / "downloaded"), weight_name="pytorch_lora_weights.safetensors")
    assert not np.array_equal(generate(pipe, "sks person", 1, 0, 3, 2.0), plain)  # the model loads and acts
