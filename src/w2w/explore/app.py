"""The `w2w explore` web page (Gradio): pick or sample an identity, edit it with one slider per
attribute direction, invert a photo or a painting, download the model.

Every handler turns bad input into a message in the page (a warning toast; the page keeps its
state), never a traceback, and the server keeps serving. One visitor at a time is the expected use
(a local app): the model picked and its label live in the page, the loaded space in the process.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local app: nothing is sent anywhere

import gradio as gr  # noqa: E402  (after the analytics switch)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from w2w.explore.session import NO_DELAY, CancelledError, ExploreSpace, ImageError  # noqa: E402

MAX_UPLOAD = "20mb"
PROGRESS = gr.Progress()  # Gradio finds a handler's progress bar by this default
STRENGTH = 16.0  # slider range in train stds: every attribute's chosen edit strength (3 to 12) inside


def build_app(explorer: ExploreSpace | None, problem: str = "") -> gr.Blocks:
    """The page; without a space, a page that says what is missing."""
    with gr.Blocks(title="w2w explore") as app:
        gr.Markdown("# w2w explore: the weights2weights space")
        if explorer is None:
            gr.Markdown(f"**No space to explore.** {problem}", elem_id="problem")
            return app
        _explore_page(explorer)
    return app


def _explore_page(explorer: ExploreSpace) -> None:
    attributes = explorer.directions.attributes
    cancel = threading.Event()
    start = gr.State(None)      # the model picked, sampled or inverted: the sliders edit it
    label = gr.State("")
    with gr.Row():
        identity = gr.Dropdown([(explorer.identity_label(i), str(i)) for i in explorer.identity_ids],
                               value=str(explorer.identity_ids[0]), label="identity", elem_id="identity")
        show = gr.Button("Show identity", elem_id="show")
        seed = gr.Number(0, precision=0, label="seed of a new identity", elem_id="seed")
        new = gr.Button("Sample a new identity", elem_id="sample")
    with gr.Row():
        grid = gr.Image(type="numpy", label="samples (fixed noise)", interactive=False, elem_id="grid")
        judged = gr.Label(label="judged attributes", num_top_classes=len(attributes), elem_id="judged")
    status = gr.Markdown(elem_id="status")
    with gr.Accordion("Edit: strengths in train standard deviations", open=True):
        sliders = []
        with gr.Row():
            for column in range(3):
                with gr.Column(min_width=200):
                    sliders += [gr.Slider(-STRENGTH, STRENGTH, value=0, step=1, label=name,
                                          elem_id=f"slider-{name}") for name in attributes[column::3]]
        sliders = sorted(sliders, key=lambda slider: attributes.index(slider.label))  # handlers' order
        delay = gr.Slider(0, NO_DELAY, value=NO_DELAY, step=50, elem_id="delay",
                          label="delayed injection: the unedited model for timesteps above T (1000: off)")
        reset = gr.Button("Reset sliders", elem_id="reset")
    with gr.Accordion("Invert: one image to a model of the space", open=True):
        with gr.Row():
            upload = gr.File(label="image to invert", elem_id="upload")
            paintings = [] if explorer.ood_ids is None else [str(i) for i in explorer.ood_ids]
            painting = gr.Dropdown(["none", *paintings], value="none", elem_id="painting",
                                   label="or a painting from the world's OOD set")
            steps = gr.Number(200, precision=0, label="optimisation steps", elem_id="steps")
        with gr.Row():
            run = gr.Button("Invert", elem_id="invert")
            stop = gr.Button("Cancel", elem_id="cancel")
    download = gr.Button("Download the model (LoRA + coefficients)", elem_id="download")
    files = gr.File(label="the current model", file_count="multiple", elem_id="files")

    def shown(vector: np.ndarray, text: str):
        return (vector, text, *slider_move(explorer, vector, {}), f"**{text}**",
                *[0.0] * len(sliders), NO_DELAY)

    outputs = [start, label, grid, judged, status, *sliders, delay]

    def refused(message: str, n: int = len(outputs)) -> list:
        """The message in the page (a toast); every output left as it was."""
        gr.Warning(message)
        return [gr.skip()] * n if n > 1 else gr.skip()

    def show_identity(chosen):
        try:
            return shown(explorer.identity(int(chosen)), f"identity {explorer.identity_label(int(chosen))}")
        except (ValueError, TypeError) as error:
            return refused(str(error))

    def sample_identity(value):
        if value is None or value < 0:
            return refused("the seed must be a whole number >= 0")
        return shown(explorer.sampled(int(value)), f"sampled identity, seed {int(value)}")

    def edited(model, t, *values):
        if model is None:
            return refused("pick, sample or invert an identity first", 2)
        return slider_move(explorer, model, dict(zip(attributes, values, strict=True)), int(t))

    def inverted(file, chosen, n, progress=PROGRESS):
        cancel.clear()
        if n is None or not 1 <= n <= 5000:
            return refused("steps must be between 1 and 5000")
        if file is None and chosen in (None, "none"):
            return refused("upload an image or pick a painting")
        try:
            if file is not None:
                image, name = explorer.image_from_file(file), Path(file).name
            else:
                row = int(np.flatnonzero(explorer.ood_ids == int(chosen))[0])
                image, name = explorer.ood[row], f"painting of identity {chosen}"
            progress(0, desc="invert")
            vector = explorer.invert_image(image, int(n), lambda i: progress((i + 1, int(n)), desc="invert"),
                                           cancel)
        except (ImageError, Image.DecompressionBombError) as error:
            return refused(str(error).replace(str(Path(file).parent) + "/", "") if file else str(error))
        except CancelledError:
            return refused("inversion cancelled")
        return shown(vector, f"inverted from {name}")

    def downloaded(model, text, *values):
        if model is None:
            return refused("pick, sample or invert an identity first", 1)
        strengths = dict(zip(attributes, values, strict=True))
        folder = Path(tempfile.mkdtemp(prefix="w2w-explore-")) / "model"
        return [str(p) for p in explorer.write_download(explorer.edited(model, strengths), folder,
                                                          {"model": text, "strengths": strengths})]

    show.click(show_identity, identity, outputs)
    new.click(sample_identity, seed, outputs)
    for control in (*sliders, delay):
        control.input(edited, [start, delay, *sliders], [grid, judged], trigger_mode="always_last")
    def reset_all(model):
        if model is None:
            return [gr.skip()] * (2 + len(sliders)) + [NO_DELAY]
        return *slider_move(explorer, model, {}), *[0.0] * len(sliders), NO_DELAY

    reset.click(reset_all, start, [grid, judged, *sliders, delay])
    inversion = run.click(inverted, [upload, painting, steps], outputs)
    stop.click(cancel.set, None, None, cancels=[inversion], queue=False)
    download.click(downloaded, [start, label, *sliders], files)


def slider_move(explorer: ExploreSpace, start: np.ndarray, strengths: dict[str, float],
                delay: int = NO_DELAY) -> tuple[np.ndarray, dict[str, float]]:
    """What the page shows for `start` with the sliders at `strengths` (none: the model itself): the
    grid picture and the judged attributes (benchmarks/explore_latency.py times exactly this)."""
    images = explorer.render(explorer.edited(start, strengths), start, delay)
    return sheet(images), explorer.judged(images)


def sheet(images: np.ndarray) -> np.ndarray:
    """(n, S, S, 3) -> one row (S, n*S, 3), scaled up 4x so that 32-px faces are visible."""
    row = np.concatenate(list(images), axis=1)
    return np.repeat(np.repeat(row, 4, axis=0), 4, axis=1)
