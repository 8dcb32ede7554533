"""Inversion: any image is accepted or clearly refused, every option takes effect, and it lowers
the image's denoising loss."""


import numpy as np
import pytest
import zarr
from PIL import Image

from w2w.adapters.layout import AdapterLayout
from w2w.base.pipeline import load_pipeline
from w2w.space.basis import Basis
from w2w.space.invert import (
    DEFAULT_LR,
    ImageError,
    identity_recovery,
    image_loss,
    invert,
    invert_batch,
    load_image,
)


def test_images_of_any_mode_and_size_are_converted(tmp_path):
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    rgba.save(tmp_path / "a.png")
    assert (load_image(tmp_path / "a.png", 32) == 255).all()  # transparent -> white
    Image.new("L", (32, 32), 100).save(tmp_path / "g.jpg")
    grey = load_image(tmp_path / "g.jpg", 32)
    assert grey.shape == (32, 32, 3) and abs(int(grey[0, 0, 0]) - 100) <= 2
    Image.new("RGB", (64, 64), (0, 0, 255)).save(tmp_path / "big.png")
    with pytest.warns(UserWarning, match="64x64 resized to 32x32"):
        assert load_image(tmp_path / "big.png", 32).shape == (32, 32, 3)


def test_other_aspect_ratios_are_centre_cropped_not_squashed(tmp_path):
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, :16] = (255, 0, 0)  # bands outside the centre square
    wide[:, 48:] = (0, 0, 255)
    wide[:, 16:48] = (0, 200, 0)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    with pytest.warns(UserWarning, match="64x32 centre-cropped to a square and resized to 32x32"):
        image = load_image(tmp_path / "wide.png", 32)
    assert image.flags.writeable  # torch warns on read-only arrays
    assert np.abs(image.astype(int) - (0, 200, 0)).max() <= 2  # only the centre square is left


def test_an_image_too_small_to_hold_a_face_is_refused(tmp_path):
    for size in [(1, 1), (15, 40)]:
        Image.new("RGB", size).save(tmp_path / "small.png")
        with pytest.raises(ImageError, match=f"{size[0]}x{size[1]} is too small to hold a face"):
            load_image(tmp_path / "small.png", 32)
    Image.new("RGB", (16, 16)).save(tmp_path / "ok.png")
    with pytest.warns(UserWarning, match="16x16 resized to 32x32"):
        assert load_image(tmp_path / "ok.png", 32).shape == (32, 32, 3)  # the documented minimum


def test_bad_image_files_are_named_in_the_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "folder.png").mkdir()
    for name, message in [("empty.png", "empty file"), ("bad.png", "not a readable image"),
                          ("missing.png", "no such image"), ("folder.png", "is a directory, not an image")]:
        with pytest.raises(ImageError, match=message) as error:
            load_image(tmp_path / name, 32)
        assert name in str(error.value)


def space_parts(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    weights = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    return pipe, Basis.load(micro_space / "basis"), AdapterLayout.from_json(weights.attrs["layout"])


def run(micro_space, image, **options):
    pipe, basis, layout = space_parts(micro_space)
    kwargs = dict(k=8, steps=30, lr=0.5, seed=0, progress=False) | options
    return invert(pipe, basis, layout, 1, 27.0, image, "sks person", **kwargs)


def test_every_option_takes_effect(micro_space, micro_world):
    image = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][0, 0])
    base = run(micro_space, image)
    assert np.array_equal(base, run(micro_space, image))  # deterministic per seed
    mask = np.zeros((32, 32))
    mask[8:24, 8:24] = 1
    for change in [dict(lr=0.05), dict(steps=10), dict(k=4), dict(seed=1), dict(mask=mask),
                   dict(timestep_range=(400, 1000))]:
        assert not np.allclose(run(micro_space, image, **change), base), change
    assert np.array_equal(run(micro_space, image, timestep_range=(0, 1000)), base)  # None: all of them
    assert np.count_nonzero(run(micro_space, image, k=4)) == 4


def test_a_prior_on_the_coefficients_pulls_the_result_towards_the_mean(micro_space, micro_world):
    image = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][0, 0])
    basis = Basis.load(micro_space / "basis")

    def spread(c: np.ndarray) -> float:  # mean(z^2): a train identity's own coefficients average 1
        return float(((c[:8] / np.sqrt(basis.explained_variance[:8])) ** 2).mean())

    free, weak, strong = (run(micro_space, image, prior_weight=w) for w in (0.0, 1.0, 100.0))
    assert np.array_equal(free, run(micro_space, image))  # 0: no prior, the default
    assert spread(strong) < spread(weak) < spread(free)
    assert spread(strong) < 0.05 * spread(free)


def test_the_tail_average_is_the_mean_of_the_last_iterates(micro_space, micro_world):
    image = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][0, 0])
    # a run of 3 steps is the first 3 of a run of 4 (the same draws): its result is iterate 3
    third, fourth = run(micro_space, image, steps=3), run(micro_space, image, steps=4)
    assert np.array_equal(run(micro_space, image, steps=4, average_tail=0.0), fourth)  # 0: the last
    np.testing.assert_allclose(run(micro_space, image, steps=4, average_tail=0.5), (third + fourth) / 2,
                               rtol=1e-5, atol=1e-7)


def test_a_cosine_schedule_takes_smaller_steps_at_the_end(micro_space, micro_world):
    image = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][0, 0])
    # step 0 runs at the full lr either way; step 1 of 2 at half of it under the cosine
    first = run(micro_space, image, steps=1)
    assert np.array_equal(run(micro_space, image, steps=1, lr_schedule="cosine"), first)
    constant, cosine = (run(micro_space, image, steps=2, lr_schedule=s) for s in ("constant", "cosine"))
    assert 0 < np.linalg.norm(cosine - first) < np.linalg.norm(constant - first)


@pytest.mark.parametrize("option", [dict(lr_schedule="linear"), dict(average_tail=1.0),
                                    dict(average_tail=-0.1)])
def test_a_bad_schedule_or_tail_is_refused_before_any_work(micro_space, option, monkeypatch):
    pipe, basis, layout = space_parts(micro_space)
    monkeypatch.setattr(pipe, "vae", None)  # reached only after the check: the encode would fail
    with pytest.raises(ValueError, match="lr_schedule|average_tail"):
        invert(pipe, basis, layout, 1, 27.0, np.zeros((32, 32, 3), np.uint8), "sks person", k=8,
               steps=1, lr=0.5, progress=False, **option)


@pytest.mark.parametrize("bad", [(600, 400), (0, 1001), (-1, 500), (500, 500)])
def test_a_bad_timestep_range_is_refused_before_any_work(micro_space, bad, monkeypatch):
    pipe, basis, layout = space_parts(micro_space)
    monkeypatch.setattr(pipe, "vae", None)  # reached only after the check: the encode would fail
    with pytest.raises(ValueError, match="timestep_range"):
        invert(pipe, basis, layout, 1, 27.0, np.zeros((32, 32, 3), np.uint8), "sks person", k=8,
               steps=1, lr=0.5, progress=False, timestep_range=bad)


def test_inversion_lowers_the_images_denoising_loss_below_the_mean_models(micro_space, micro_world):
    """It optimises what it claims: the image's loss (fresh noise draws) falls from the mean model's.
    Whether the result is the right identity is measured at default scale (see docs), where the
    base and the fleet are trained; the micro models here are random."""
    pipe, basis, layout = space_parts(micro_space)
    images = zarr.open_group(micro_world / "images.zarr", mode="r")["images"]
    for row in range(3):
        image = np.asarray(images[row, 0])
        c = run(micro_space, image, steps=60, lr=0.05)
        before = image_loss(pipe, basis, layout, 27.0, image, "sks person", np.zeros(basis.k), seed=9)
        after = image_loss(pipe, basis, layout, 27.0, image, "sks person", c, seed=9)
        assert after < before, (row, before, after)


def test_batched_inversion_equals_one_image_at_a_time(micro_space, micro_world):
    images = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][:3, 0])
    pipe, basis, layout = space_parts(micro_space)
    together = invert_batch(pipe, basis, layout, 1, 27.0, images, "sks person", k=8, steps=10, lr=0.5,
                            seed=4, progress=False)
    for j, image in enumerate(images):
        alone = run(micro_space, image, steps=10, seed=4 + j)
        assert np.allclose(together[j], alone, rtol=1e-3, atol=1e-5), j
    assert not np.allclose(together[0], together[1])


def test_a_mask_per_image_weights_each_image_as_it_would_alone(micro_space, micro_world):
    images = np.asarray(zarr.open_group(micro_world / "images.zarr", mode="r")["images"][:2, 0])
    pipe, basis, layout = space_parts(micro_space)
    masks = np.zeros((2, 32, 32))
    masks[0, 8:24, 8:24], masks[1, :16] = 1, 0.5
    together = invert_batch(pipe, basis, layout, 1, 27.0, images, "sks person", k=8, steps=10, lr=0.5,
                            seed=4, mask=masks, progress=False)
    for j, image in enumerate(images):
        alone = run(micro_space, image, steps=10, seed=4 + j, mask=masks[j])
        assert np.allclose(together[j], alone, rtol=1e-3, atol=1e-5), j
    pipe.vae = None  # reached only after the check: the encode would fail
    with pytest.raises(ValueError, match="3 inversion masks for 2 images"):
        invert_batch(pipe, basis, layout, 1, 27.0, images, "sks person", k=8, steps=1, lr=0.5,
                     mask=np.ones((3, 32, 32)), progress=False)


def test_identity_recovery_measures_distances_and_ranks_in_the_leading_components():
    train = np.array([[1.0, 0.0, 9.0], [0.0, 2.0, -9.0], [5.0, 5.0, 0.0]])  # 3rd component ignored
    basis = Basis(np.zeros(4), np.ones(4), np.eye(3, 4), np.ones(3), np.ones(3), np.ones(3) / 3, train,
                  np.array([10, 20, 30]))
    ratio, ranks = identity_recovery(np.array([[0.0, 1.5], [3.0, 3.0]]), basis, np.array([20, 10]))
    assert np.allclose(ratio, [0.5 / 1.5, np.sqrt(13) / np.sqrt(18)])
    assert ranks.tolist() == [1, 3]  # [3, 3] is nearer identities 20 (3.16) and 30 (2.83) than 10 (3.61)


def test_the_cli_and_the_explorer_invert_at_the_evaluations_lr():
    """One operating point: `w2w invert` and the explorer use DEFAULT_LR, the evaluation params.yaml's."""
    from committed import section

    assert section("evaluate_inversion").lr == DEFAULT_LR
