"""The Gradio page over :class:`~segr1.serve.core.Segr1Service` (``segr1 serve``).

Left: the image (upload, or pick a generated example), an optional query, the task (auto:
from the query), the Segment button. Right: a status line (errors in words, never a
traceback), the overlay (mask tinted, boxes, points: green = object, red = background), the raw
answer, the parsed prompts (JSON), the per-turn table, the mask PNG to download.

Offline by construction: no analytics, no share link, system fonts only (no web fonts), and it
listens on 127.0.0.1 unless a host is given explicitly. One request at a time (the models are
shared).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from segr1.serve.core import TASK_CHOICES, Segr1Service
from segr1.serve.uploads import MAX_BYTES, UploadError, load_upload

log = logging.getLogger(__name__)
TURN_HEADERS = ["turn", "boxes (x1,y1,x2,y2)", "points x,y (label)", "mask area (px)", "usable"]
LEGEND = (
    "Mask tinted blue; boxes yellow; points green (object, label 1) or red (background, "
    "label 0), in the image's pixels."
)
SEAM = "Multi-turn refinement (the policy sees its mask and answers again) arrives with the "
SEAM += "refinement issue; this version runs one turn."


def _install_hint() -> str:
    return "the web app needs Gradio: pip install 'segr1[serve]'"


def run_request(
    service: Segr1Service, upload: str | None, query: str | None, task: str, out_dir: Path
) -> tuple[str, Any, str, Any, list, str | None]:
    """The Segment button: (status, overlay, answer, prompts, turn rows, mask file). Any
    failure becomes a status message; the server log keeps the traceback of unexpected ones."""
    empty: tuple = (None, "", None, [], None)
    if not upload:
        return ("Upload an image or pick an example first.", *empty)
    try:
        image = load_upload(upload)
        result = service.segment(image, query, task)
    except UploadError as e:
        return (f"**Cannot use this file.** {e}", *empty)
    except ValueError as e:  # e.g. a referring task without a query
        return (f"**Cannot segment.** {e}", *empty)
    except Exception as e:  # the page shows words; the log keeps the details
        log.exception("segmentation failed")
        return (f"**Segmentation failed** ({type(e).__name__}: {e}). See the server log.", *empty)
    from segr1.data.io import write_mask

    turn = result.final
    mask_path = Path(tempfile.mkdtemp(dir=out_dir)) / f"{Path(upload).stem}_mask.png"
    write_mask(mask_path, turn.prediction.levels)
    pred = turn.prediction
    status = f"Task **{result.task}**; " + (
        f"mask of {int(pred.mask.sum())} pixels from {len(pred.prompts.boxes)} box(es) and "
        f"{len(pred.prompts.points)} point(s)."
        if pred.usable
        else "the answer has no usable box or points, so the mask is empty."
    )
    return (
        status,
        turn.overlay,
        pred.completion,
        result.prompts(),
        result.turn_rows(),
        str(mask_path),
    )


def preview(upload: str | None) -> tuple[Any, ...]:
    """On a new upload: the image as the app reads it (or the reason it cannot be used), and
    the previous result cleared (it belonged to the previous image)."""
    cleared = (None, "", None, [], None)
    if not upload:
        return (None, "", *cleared)
    try:
        return (load_upload(upload), "", *cleared)
    except UploadError as e:
        return (None, f"**Cannot use this file.** {e}", *cleared)


def build_ui(service: Segr1Service, about: str = "", examples: list[Path] | None = None):
    """The page (a ``gr.Blocks``) for ``service``; ``about``: a line naming model and segmenter."""
    try:
        import gradio as gr
    except ImportError as err:
        raise ImportError(_install_hint()) from err

    out_dir = Path(tempfile.mkdtemp(prefix="segr1-serve-"))
    with gr.Blocks(title="Seg-R1", analytics_enabled=False) as ui:
        gr.Markdown(f"# Seg-R1\nA vision-language policy writes a box and points; a frozen "
                    f"segmenter draws the mask. {about}")  # fmt: skip
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="Image", type="filepath", elem_id="upload")
                shown = gr.Image(label="Input", interactive=False, elem_id="preview", height=260)
                if examples:
                    gr.Examples([[str(p)] for p in examples], inputs=[upload],
                                label="Or pick a generated example")  # fmt: skip
                query = gr.Textbox(label="Query (optional)", elem_id="query",
                                   placeholder="empty: segment the main object; an expression "
                                   "('the left cup') or a question ('what holds the flowers?')")  # fmt: skip
                task = gr.Radio(list(TASK_CHOICES), value="auto", label="Task",
                                info="auto: none without a query, reasoning for a question, "
                                "referring otherwise")  # fmt: skip
                run = gr.Button("Segment", variant="primary", elem_id="run")
                gr.Markdown(SEAM)
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                overlay = gr.Image(label="Result", interactive=False, format="png",
                                   elem_id="overlay")  # fmt: skip
                gr.Markdown(LEGEND)
                answer = gr.Textbox(label="Raw answer", lines=4, interactive=False,
                                    elem_id="answer")  # fmt: skip
                prompts = gr.JSON(label="Parsed prompts", elem_id="prompts")
                turns = gr.Dataframe(headers=TURN_HEADERS, label="Turns", interactive=False,
                                     elem_id="turns")  # fmt: skip
                mask = gr.File(label="Mask PNG", interactive=False, elem_id="mask")
        results = [overlay, answer, prompts, turns, mask]
        upload.change(preview, inputs=[upload], outputs=[shown, status, *results])
        run.click(
            lambda u, q, t: run_request(service, u, q, t, out_dir),
            inputs=[upload, query, task],
            outputs=[status, *results],
        )
    return ui


def offline_theme() -> Any:
    """Gradio's default theme with system fonts (the default loads web fonts)."""
    import gradio as gr

    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )


def launch(ui: Any, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Serve ``ui`` on ``host:port`` (no share link); ``block=False`` returns at once."""
    ui.queue(default_concurrency_limit=1)
    return ui.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        show_error=False,
        max_file_size=4 * MAX_BYTES,  # larger files: Gradio's own message; ours below that
        prevent_thread_lock=not block,
        theme=offline_theme(),
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        quiet=True,
    )
