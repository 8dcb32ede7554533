"""What the explore page does, without a browser: compose edits, sample, invert with progress and
cancel, and download a model that stock diffusers loads as `w2w edit` writes it."""

import threading

import numpy as np
import pytest
from safetensors.torch import load_file

from w2w.base.pipeline import generate, load_lora, load_pipeline
from w2w.cli import main
from w2w.explore.app import build_app, sheet
from w2w.explore.session import GRID_SAMPLES, CancelledError, ExploreSpace
from w2w.params import PreviewParams
from w2w.space.edit import edit, sample

SAMPLER = PreviewParams(sampler_steps=3, guidance_scale=2.0, unconditional="model", seed=0)


@pytest.fixture(scope="module")
def explorer(micro_space, micro_world) -> ExploreSpace:
    return ExploreSpace.open(micro_space / "weights.zarr", micro_space / "basis", micro_space / "directions",
                             micro_space / "base" / "model", SAMPLER, judge=None, world=micro_world)


def test_sliders_compose_and_change_the_samples(explorer):
    start = explorer.identity(explorer.identity_ids[0])
    a, b = explorer.directions.attributes[:2]
    both = explorer.edited(start, {a: 2.0, b: -1.0})
    basis, directions = explorer.space.basis, explorer.directions
    np.testing.assert_array_equal(both, edit(start, {a: 2.0, b: -1.0}, basis, directions))
    assert np.array_equal(explorer.edited(start, {a: 0.0, b: 0.0}), start)  # sliders at 0: the model itself
    plain, moved = explorer.render(start), explorer.render(both)
    assert plain.shape == (GRID_SAMPLES, 32, 32, 3) and np.array_equal(plain, explorer.render(start))
    assert np.abs(plain.astype(int) - moved.astype(int)).max() > 0
    late = explorer.render(both, start, delay=500)  # the unedited model first: between the two
    assert not np.array_equal(late, moved) and not np.array_equal(late, plain)
    assert sheet(plain).shape == (32 * 4, GRID_SAMPLES * 32 * 4, 3)
    assert explorer.judged(plain) == {}  # no judge given: nothing judged


def test_identities_are_labelled_train_or_held_out(explorer):
    group = explorer.space.group
    heldout = dict(zip(group["identity_ids"][:].tolist(), group["heldout"][:].tolist(), strict=True))
    for identity in explorer.identity_ids:
        split = "held-out" if heldout[identity] else "train"
        assert explorer.identity_label(identity) == f"{identity} ({split})"
    assert any(heldout.values()) and not all(heldout.values())


def test_a_sampled_identity_is_the_basis_sample_of_that_seed(explorer):
    np.testing.assert_array_equal(explorer.sampled(5), sample(explorer.space.basis, 1, 5)[0])
    assert not np.array_equal(explorer.sampled(5), explorer.sampled(6))


def test_inversion_reports_each_step_and_stops_when_cancelled(explorer):
    steps = []
    image = explorer.ood[0]
    vector = explorer.invert_image(image, 3, steps.append)
    assert steps == [0, 1, 2] and vector.shape == (explorer.space.layout.dim,)
    c = explorer.space.basis.to_coefficients(vector)
    np.testing.assert_allclose(explorer.space.basis.to_weights(c), vector, atol=1e-5)  # in the space
    stop = threading.Event()
    with pytest.raises(CancelledError):
        explorer.invert_image(image, 50, lambda i: stop.set() if i == 1 else None, stop)


def test_the_download_loads_in_stock_diffusers_and_equals_w2w_edit(explorer, micro_space, tmp_path):
    identity = explorer.identity_ids[0]
    attribute = explorer.directions.attributes[0]
    files = explorer.write_download(explorer.edited(explorer.identity(identity), {attribute: 2.0}),
                                    tmp_path / "download", {"model": f"identity {identity}"})
    assert [f.name for f in files] == ["pytorch_lora_weights.safetensors", "adapter_config.json",
                                       "coefficients.json"]
    assert main(["edit", "--identity", str(identity), "--set", f"{attribute}=2", "--directions",
                 str(micro_space / "directions"), "--weights", str(micro_space / "weights.zarr"),
                 "--basis", str(micro_space / "basis"), "--model", str(micro_space / "base" / "model"),
                 "--preview", "0", "--out", str(tmp_path / "edit")]) == 0
    ours, cli = load_file(files[0]), load_file(tmp_path / "edit" / "pytorch_lora_weights.safetensors")
    assert set(ours) == set(cli) and all(np.array_equal(ours[k].numpy(), cli[k].numpy()) for k in ours)
    pipe = load_pipeline(micro_space / "base" / "model")
    plain = generate(pipe, "sks person", 1, 0, 3, 2.0)
    pipe.load_lora_weights(str(tmp_path / "download"), weight_name=files[0].name)  # stock diffusers
    assert not np.array_equal(generate(pipe, "sks person", 1, 0, 3, 2.0), plain)
    load_lora(load_pipeline(micro_space / "base" / "model"), tmp_path / "download")


def test_without_a_space_the_page_says_what_is_missing():
    app = build_app(None, "data/basis: not a basis folder")
    assert "not a basis folder" in str(app.config)
