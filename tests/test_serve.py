"""`segr1 serve`: the request path without a browser (task from the query, uploads vetted with
clear messages, the evaluation's own prediction path, the multi-turn seam), and the page in a
real headless Chromium: upload a generated image, segment, and the overlay PNG and the raw
answer the page shows are exactly what the pipeline produces for that image."""

from __future__ import annotations

import io
import urllib.request

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from browser import chromium, free_port
from segr1.cli import app
from segr1.data.io import read_mask
from segr1.data.registry import load_dataset
from segr1.inference import Pipeline
from segr1.serve import Segr1Service, UploadError, choose_task, load_upload

SIDE = 96


@pytest.fixture(scope="module")
def service(answering_policy_dir):
    base = Pipeline.from_pretrained(str(answering_policy_dir), segmenter="grabcut", side=SIDE)
    return Segr1Service(base, side=SIDE)


@pytest.fixture(scope="module")
def image_file(synth_root, tmp_path_factory):
    """A generated test scene the answering policy answers with a real box."""
    sample = load_dataset("synth", synth_root, split="test")[0]
    path = tmp_path_factory.mktemp("upload") / "scene.png"
    Image.fromarray(sample.load_image()).save(path)
    return path


def test_task_follows_the_query():
    assert choose_task("") == choose_task(None) == choose_task("  ") == "foreground"
    assert choose_task("the cup on the left") == "referring"
    assert choose_task("What holds the flowers?") == "reasoning"
    assert choose_task("which animal could climb this tree") == "reasoning"
    assert choose_task("the cup", "foreground") == "foreground"
    with pytest.raises(ValueError, match="choose one of"):
        choose_task("x", "detect")


def _save(path, img, **kw):
    img.save(path, **kw)
    return path


def test_bad_uploads_get_clear_messages(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    with pytest.raises(UploadError, match="not an image this app can read"):
        load_upload(text)
    cmyk = _save(tmp_path / "print.jpg", Image.new("CMYK", (40, 30), (0, 50, 100, 0)))
    with pytest.raises(UploadError, match="CMYK"):
        load_upload(cmyk)
    frames = [Image.new("RGB", (20, 20), (80 * i, 0, 0)) for i in range(3)]
    gif = _save(tmp_path / "anim.gif", frames[0], save_all=True, append_images=frames[1:])
    with pytest.raises(UploadError, match=r"animated.*3 frames"):
        load_upload(gif)
    big = _save(tmp_path / "big.png", Image.new("L", (3000, 2000)))
    with pytest.raises(UploadError, match="3000 x 2000 pixels"):
        load_upload(big, max_pixels=1_000_000)
    with pytest.raises(UploadError, match="MiB"):
        load_upload(big, max_bytes=100)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(big.read_bytes()[:200])
    with pytest.raises(UploadError, match="truncated or corrupt"):
        load_upload(truncated)
    rgba = _save(tmp_path / "rgba.png", Image.new("RGBA", (5, 4), (10, 20, 30, 0)))
    assert load_upload(rgba).shape == (4, 5, 3) and load_upload(rgba)[0, 0].tolist() == [10, 20, 30]


def test_service_uses_the_pipeline_path(service, image_file):
    image = load_upload(image_file)
    result = service.segment(image)
    pred = result.final.prediction
    alone = service.pipeline("foreground").predict_batch([image])[0]
    assert pred.completion == alone.completion and pred.usable and pred.mask.any()
    np.testing.assert_array_equal(pred.levels, alone.levels)
    assert result.task == "foreground" and result.turn_rows()[0][0] == 1
    assert result.final.overlay.shape == (96 * 6, 96 * 6, 3)  # shown enlarged to >= 512
    assert result.prompts()["answer"]["boxes"] == alone.answer.to_dict()["boxes"]
    with pytest.raises(NotImplementedError, match="multi-turn refinement"):
        service.segment(image, turns=2)
    with pytest.raises(ValueError, match="query"):
        service.segment(image, task="referring")


def test_request_errors_are_messages_not_tracebacks(service, image_file, tmp_path):
    from segr1.serve.app import run_request

    text = tmp_path / "x.png"
    text.write_text("hello")
    status, overlay, *_ = run_request(service, str(text), "", "auto", tmp_path)
    assert status.startswith("**Cannot use this file.**") and overlay is None
    status, *_ = run_request(service, str(image_file), "", "referring", tmp_path)
    assert status.startswith("**Cannot segment.**") and "query" in status
    status, *_ = run_request(service, None, "", "auto", tmp_path)
    assert "Upload an image" in status
    status, overlay, answer, prompts, rows, mask = run_request(
        service, str(image_file), "", "auto", tmp_path
    )
    assert status.startswith("Task **foreground**") and answer.startswith("<think>")
    assert prompts["usable"] and rows[0][-1] == "yes" and overlay.shape[2] == 3
    expected = service.segment(load_upload(image_file)).final.prediction
    np.testing.assert_array_equal(read_mask(mask), expected.levels)


def test_serve_help_names_the_host_default():
    res = CliRunner().invoke(app, ["serve", "--help"])
    assert res.exit_code == 0 and "127.0.0.1" in res.output and "--host" in res.output


@pytest.mark.browser
def test_page_in_a_real_browser(service, image_file, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from segr1.serve.app import build_ui, launch

    expected = service.segment(load_upload(image_file)).final
    port = free_port()
    ui = build_ui(service, about="test")
    launch(ui, port=port, block=False)
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 120)
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
        upload.send_keys(str(image_file))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview img"))
        driver.find_element(By.CSS_SELECTOR, "#run").click()
        img = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#overlay img"))
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", img) > 0)
        answer = driver.find_element(By.CSS_SELECTOR, "#answer textarea").get_attribute("value")
        status = driver.find_element(By.CSS_SELECTOR, "#status").text
        shown = np.asarray(Image.open(io.BytesIO(urllib.request.urlopen(
            img.get_attribute("src"), timeout=30).read())).convert("RGB"))  # fmt: skip
        driver.save_screenshot(str(tmp_path / "serve.png"))
        # a bad upload: a message in the page, the old result cleared
        bad = tmp_path / "notes.png"
        bad.write_text("not an image")
        driver.find_element(By.CSS_SELECTOR, "#upload button[aria-label=Clear]").click()
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
        upload.send_keys(str(bad))
        wait.until(lambda d: "Cannot use this file" in d.find_element(By.CSS_SELECTOR,
                                                                      "#status").text)  # fmt: skip
        driver.save_screenshot(str(tmp_path / "serve_bad_upload.png"))
        cleared = not driver.find_elements(By.CSS_SELECTOR, "#overlay img")
    finally:
        driver.quit()
        ui.close()
    assert answer == expected.prediction.completion and "<bbox>" in answer
    assert status.startswith("Task foreground; mask of")
    np.testing.assert_array_equal(shown, expected.overlay)  # the page shows this overlay
    assert (tmp_path / "serve.png").stat().st_size > 10_000
    assert cleared  # the previous image's result does not stay beside the new upload


def test_serve_cli_builds_the_app_and_listens_on_localhost(tiny_policy_dir, monkeypatch, tmp_path):
    import segr1.serve.app as web

    monkeypatch.setenv("SEGR1_CACHE", str(tmp_path))
    seen = {}
    monkeypatch.setattr(web, "launch", lambda ui, host, port: seen.update(ui=ui, host=host,
                                                                          port=port))  # fmt: skip
    res = CliRunner().invoke(app, ["serve", "--model", str(tiny_policy_dir), "--port", "7999"])
    assert res.exit_code == 0, res.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 7999 and seen["ui"] is not None
    assert len(list((tmp_path / "examples-256").glob("*.png"))) == 3  # the pickable examples
    res = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output


def test_default_policy_is_built_once_into_the_cache(monkeypatch, tmp_path):
    from segr1.serve import default_policy

    monkeypatch.setenv("SEGR1_CACHE", str(tmp_path))
    first = default_policy()
    stamp = (first / "config.json").stat().st_mtime_ns
    assert first.parent == tmp_path and default_policy() == first
    assert (first / "config.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
