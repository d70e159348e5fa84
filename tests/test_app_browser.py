"""`vampkit app` end to end in headless Chromium: tiny models, loopback only, no network.

Skipped only where Chromium (or the app extra) is missing and CI is not set; in CI (CI=true)
a missing browser fails. Set VAMPKIT_SCREENSHOT=docs/app.png to refresh the docs' screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import torch
from helpers_models import write_tiny_set

import vampkit
from vampkit import plugins
from vampkit.examples import write_groove

ROOT = Path(__file__).resolve().parents[1]
VAMPKIT = [sys.executable, "-m", "vampkit"]  # this interpreter, whatever its environment
CHROMIUM = os.environ.get("VAMPKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# a fresh profile each launch (Playwright's default), nothing fetched from outside 127.0.0.1
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
TIMEOUT_MS = 120_000


def _require(what: str, present: bool) -> None:
    if present:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing, and CI must run the browser test (scripts/setup.sh --test installs it)")
    pytest.skip(f"{what} is not installed (scripts/setup.sh --test installs it)")


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


_require("chromium", Path(CHROMIUM).exists())
_require("the app extra (gradio)", _installed("gradio"))
_require("playwright", _installed("playwright"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402 - after the skip checks

expect.set_options(timeout=TIMEOUT_MS)


@attrs.frozen
class Explode:
    """A mask generator that raises: the app must report it and keep serving."""

    name = "explode"

    def __call__(self, ctx):
        raise RuntimeError("boom from the explode mask")


class ExplodePlugin:
    @vampkit.hookimpl
    def register_masks(self, register):
        register(Explode)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    weights = write_tiny_set(root)
    groove = write_groove(root / "groove.wav", seconds=1.2)
    return root, f"{weights['coarse']},{weights['c2f']},{weights['codec']}", groove


@pytest.fixture(scope="module")
def server(files):
    from vampkit.app import serve

    _root, weights, _groove = files
    name = plugins.register_plugin(ExplodePlugin(), name="test-explode")
    running = serve(weights, device="cpu", host="127.0.0.1", port=_free_port(), block=False, quiet=True)
    try:
        yield running
    finally:
        running.close()
        plugins.unregister_plugin(name)
    assert not running.temp_dir.exists()  # temporary files go with the server


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.wait_for_selector("#generate")
    return page


def _md(page, elem_id: str):
    return page.locator(f"#{elem_id} [data-testid=markdown]")


def _upload(page, path: Path) -> None:
    page.set_input_files("#upload input[type=file]", str(path))
    expect(_md(page, "upload-status")).to_contain_text(" s at ")
    expect(_md(page, "preview-info")).to_contain_text("kept")


def _choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` from a Gradio dropdown (a text box with a listbox, not a <select>)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(option)  # filters the list down to the option
    page.locator(f"#{elem_id} ul[role=listbox] li[role=option][aria-label=\"{option}\"]").click()
    box.blur()
    expect(page.locator(f"#{elem_id} input")).to_have_value(option)


def _options(page, elem_id: str) -> list[str]:
    page.locator(f"#{elem_id} input").click()
    options = page.locator(f"#{elem_id} ul[role=listbox] li[role=option]")
    expect(options.first).to_be_visible()
    texts = [t.strip() for t in options.all_inner_texts()]
    page.locator(f"#{elem_id} input").blur()
    return texts


def _kept(page) -> str:
    return _md(page, "preview-info").inner_text()


def _wait_outputs(page, n: int) -> list[str]:
    """Wait until ``n`` output players have decoded their audio (a playable file); their URLs."""
    urls = []
    for i in range(n):
        players = page.locator(f"#output-{i} audio")
        expect(players.first).to_be_attached()
        # Gradio 6 draws each player with more than one <audio>: one of them must play the file
        handle = page.wait_for_function(
            "els => { const a = els.find(el => el.src && el.readyState >= 1 && el.duration > 0 && !el.error);"
            " return a ? a.src : null; }", arg=players.element_handles())
        urls.append(handle.json_value())
    return urls


def _generate(page, n: int, seed: int) -> None:
    page.fill("#seed input", str(seed))
    page.fill("#variations input[type=number]", str(n))
    page.locator("#variations input[type=number]").press("Enter")
    page.click("#generate")


def test_vamp_by_ear_and_take_the_recipe_away(server, browser, files, tmp_path):
    """Upload, pick a recipe, move a mask parameter, generate two, reproduce one with `vampkit run`."""
    _root, _weights, groove = files
    page = _open(browser, server)
    _upload(page, groove)
    _choose(page, "recipe", "small-variation")
    expect(page.locator("#layer0-periodic-period input")).to_have_value("5")
    expect(page.locator("#mask-yaml textarea")).to_have_value(
        "{any-of: [{periodic: {period: 5, random_offset: true}}, codebooks]}")  # keep 4 is the default
    before = _kept(page)
    page.fill("#layer0-periodic-period input", "2")
    expect(_md(page, "preview-info")).not_to_have_text(before)
    assert "kept" in _kept(page)
    _generate(page, 2, seed=7)
    urls = _wait_outputs(page, 2)
    assert urls[0] != urls[1]
    expect(page.locator("#output-2")).to_be_hidden()
    expect(_md(page, "run-status")).to_contain_text("2 variation(s) of **small-variation**".replace("**", ""))

    saved = {}
    for name in ("recipe.yaml", ".0.wav", "manifest.json"):
        with page.expect_download() as info:
            page.locator(f"#downloads a[download$=\"{name}\"]").first.click()
        download = info.value
        saved[name] = tmp_path / download.suggested_filename
        download.save_as(saved[name])
    screenshot = Path(os.environ.get("VAMPKIT_SCREENSHOT") or tmp_path / "app.png")
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.close()

    recipe_text = saved["recipe.yaml"].read_text()
    assert "period: 2" in recipe_text and "seed: 7" in recipe_text
    out = tmp_path / "cli"
    proc = subprocess.run([*VAMPKIT, "run", str(saved["recipe.yaml"]), "--input", str(groove), "--out", str(out), "-q"],
                          check=False, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})  # the server's: sums depend on it
    assert proc.returncode == 0, proc.stderr
    cli_output = out / "groove.small-variation.7.0.wav"
    # byte for byte (vampkit zeroes the write time libsndfile puts in float WAVs' PEAK chunk)
    assert cli_output.read_bytes() == saved[".0.wav"].read_bytes()


def test_a_plugin_mask_appears_in_the_menu_with_its_form(server, browser):
    page = _open(browser, server)
    options = _options(page, "layer2-generator")
    assert "loudness" in options  # plugins/vampkit-loudness, installed by scripts/setup.sh --test
    _choose(page, "layer2-generator", "loudness")
    expect(page.locator("#layer2-loudness-threshold_db input").first).to_be_visible()
    expect(page.locator("#layer2-loudness-keep input")).to_have_value("loud")
    expect(page.locator("#mask-yaml textarea")).to_have_value(
        "{any-of: [{periodic: {period: 8}}, {codebooks: {keep: 3}}, loudness]}")
    page.close()


def test_an_invalid_value_shows_the_generators_own_message(server, browser):
    page = _open(browser, server)
    page.fill("#layer0-periodic-period input", "-3")
    expect(_md(page, "layer0-error")).to_contain_text("periodic: period must be >= 0, got -3")
    page.close()


def test_two_concurrent_requests_both_complete(server, browser, files):
    _root, _weights, groove = files
    pages = [_open(browser, server) for _ in range(2)]
    for page in pages:
        _upload(page, groove)
    for seed, page in enumerate(pages):
        _generate(page, 1, seed=seed)
    for page in pages:
        _wait_outputs(page, 1)
        page.close()


def test_a_raising_request_shows_its_message_and_the_server_keeps_serving(server, browser, files):
    _root, _weights, groove = files
    page = _open(browser, server)
    _upload(page, groove)
    _choose(page, "layer1-generator", "(none)")
    expect(page.locator("#mask-yaml textarea")).to_have_value("{periodic: {period: 8}}")
    _choose(page, "layer0-generator", "explode")
    expect(page.locator("#mask-yaml textarea")).to_have_value("explode")
    expect(_md(page, "preview-info")).to_contain_text("boom from the explode mask")
    page.click("#generate")
    expect(_md(page, "run-status")).to_contain_text("boom from the explode mask")
    _choose(page, "layer0-generator", "periodic")
    expect(page.locator("#mask-yaml textarea")).to_have_value("{periodic: {period: 8}}")
    page.click("#generate")
    _wait_outputs(page, 1)
    page.close()


def test_uploads_stay_in_the_app_folder_and_a_named_server_path_is_refused(server, tmp_path):
    """Uploaded bytes land in the app's temp folder whatever their name; a client naming a file
    outside it (as Gradio's FileData) is refused before any handler reads it."""
    import asyncio

    import httpx
    from concurrent.futures import ThreadPoolExecutor

    response = httpx.post(f"{server.url.rstrip('/')}/gradio_api/upload", timeout=60,
                          files={"files": ("../../x.wav", b"RIFF", "audio/wav")})
    response.raise_for_status()
    (saved,) = response.json()
    assert Path(saved).resolve().is_relative_to(server.temp_dir) and Path(saved).read_bytes() == b"RIFF"

    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    blocks = server.blocks
    upload_fn = next(fn for fn in blocks.fns.values() if fn.inputs and fn.inputs[0] is blocks.vampkit_page.upload)
    from gradio.context import LocalContext

    def call() -> None:  # in a thread of its own: the browser's event loop runs in this one
        LocalContext.blocks.set(blocks)
        asyncio.run(blocks.process_api(upload_fn, [{"path": str(secret), "meta": {"_type": "gradio.FileData"}},
                                                   *[None] * (len(upload_fn.inputs) - 1)]))

    with ThreadPoolExecutor(1) as pool, pytest.raises(Exception, match="not uploaded by a user"):
        pool.submit(call).result()


def test_the_page_fetches_nothing_from_outside_the_machine(server, browser):
    """A studio machine may be offline: fonts and scripts come from the app itself."""
    from urllib.parse import urlsplit

    page = browser.new_page()
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlsplit(request.url).hostname not in ("127.0.0.1", None) and request.url.startswith("http") else None)
    page.goto(server.url)
    page.wait_for_selector("#generate")
    page.wait_for_timeout(2000)  # fonts and lazy scripts load after the page shows (the queue's stream never idles)
    page.close()
    assert outside == []
