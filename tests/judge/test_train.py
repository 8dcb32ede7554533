"""The judge really learns: a short run on a small world beats chance on held-out identities."""

import numpy as np
import pandas as pd
import pytest
from committed import section
from folders import write_photo_folder

from w2w.judge import train
from w2w.judge.api import Judge
from w2w.judge.train import (
    TRAIT_FIRST_ID,
    fit_and_evaluate,
    fresh_trait_set,
    render_training_set,
    style_training_set,
    with_round_trips,
)
from w2w.storage import STREAM_JUDGE
from w2w.world.dataset import identities_from_table, render_identities, render_identity, synthesize_world
from w2w.world.folder import read_identity_folder
from w2w.world.identity import ATTRIBUTES, TRAITS, Grading, sample_identity


def test_short_training_generalises_to_heldout(tmp_path):
    world, out = tmp_path / "world", tmp_path / "judge"
    world.mkdir()
    world_params = section("synthesize", identities=60, images_per_identity=4, heldout_fraction=0.25)
    synthesize_world(world_params, world)
    params = section("judge", renders_per_identity=8, epochs=6, identity_epochs=7, batch_size=64, width=8,
                     embedding_dim=16, style_renders_per_identity=4, style_epochs=15)
    losses = []
    metrics = fit_and_evaluate(world, params, out, darker,
                               on_epoch=lambda epoch, logged: losses.append(logged))
    identity = [e["train.identity_loss"] for e in losses if "train.identity_loss" in e]
    traits = [e["train.trait_loss"] for e in losses if "train.trait_loss" in e]
    style = [e["train.style_loss"] for e in losses if "train.style_loss" in e]
    reader = [e["train.reader_loss"] for e in losses if "train.reader_loss" in e]
    assert (len(identity), len(traits), len(reader)) == (7, 6, 6)  # the embedding's own epochs
    assert identity[-1] < identity[0] and traits[-1] < traits[0] and style[-1] < style[0]
    assert reader[-1] < reader[0]
    assert metrics["identity_auc"] > 0.8
    assert metrics["attribute_accuracy_mean"] > 0.7
    robust = metrics["robustness"]  # the stand-in "VAE" was seen in training and is measured
    assert robust["vae_round_trip"]["auc"] > 0.8 and robust["clean"]["auc"] > 0.8
    t = metrics["traits"]  # the regressor reads traits from renders better than guessing
    assert t["trait_error_identity_mean"] < 0.8 * t["trait_error_chance"]
    # the style head tells the held-out identities' renders from their paintings, also through the "VAE"
    assert metrics["style"]["balanced_accuracy"] > 0.9 and metrics["style"]["balanced_accuracy_vae"] > 0.9
    # the attribute reader, trained on fresh people, reads the held-out identities' attributes, and
    # the judge's own head is measured beside it on the same renders
    assert metrics["attribute_auc_mean"] > 0.6
    assert metrics["judge_head"]["attribute_auc_mean"] > 0.6
    assert metrics["attribute_accuracy"] != metrics["judge_head"]["attribute_accuracy"]
    judge = Judge.load(out)
    assert np.isclose(judge.config["verification_threshold"], metrics["verification_threshold"])
    assert judge.has_traits and judge.has_style and judge.has_attribute_reader
    images = render_identity(sample_identity(TRAIT_FIRST_ID - 1, 3), 4, 0, STREAM_JUDGE, 32)
    read, own = judge.attribute_probabilities(images), judge.own_head().attribute_probabilities(images)
    assert read.shape == own.shape == (4, len(ATTRIBUTES)) and not np.allclose(read, own)
    assert np.allclose(own, 1 / (1 + np.exp(-judge._run(images)[1])))  # the judge's head, as before


def darker(images: np.ndarray) -> np.ndarray:
    """A stand-in for the base's VAE round trip: the image at 80 % brightness."""
    return (images.astype(np.float32) * 0.8).astype(np.uint8)


def test_judge_learns_from_a_photo_folder(tmp_path):
    """Real-style data: the judge trains on the train identities' photos (no fresh renders, no
    traits) and tells held-out identities apart on photos it never saw."""
    write_photo_folder(tmp_path, identities=60, photos_each=7)
    world, out = tmp_path / "world", tmp_path / "judge"
    world.mkdir()
    read_identity_folder(section("synthesize", source="folder", folder=str(tmp_path / "photos"),
                                 attributes_file=str(tmp_path / "list_attr_celeba.txt"), identities=60,
                                 images_per_identity=4, references_per_identity=2, heldout_fraction=0.25),
                         world)
    params = section("judge", renders_per_identity=8, epochs=6, batch_size=64, width=8, embedding_dim=16)
    metrics = fit_and_evaluate(world, params, out, darker)
    assert metrics["identity_auc"] > 0.8 and metrics["attribute_accuracy_mean"] > 0.7
    assert "traits" not in metrics and not (out / "traits.safetensors").exists()
    assert "style" not in metrics and not (out / "style.safetensors").exists()  # photos are not painted
    # no fresh people to train an attribute reader on: the judge's own head reads the attributes
    assert "judge_head" not in metrics and not (out / "attributes.safetensors").exists()
    judge = Judge.load(out)
    assert judge.attribute_names == list(ATTRIBUTES) and not judge.has_traits and not judge.has_style
    assert not judge.has_attribute_reader


def test_trait_regressor_trains_on_fresh_people():
    """The regressor's and the attribute reader's training set: people drawn afresh (none of the
    world's ids), each render labelled with its own person's true traits and attributes."""
    data = fresh_trait_set(5, seed=0, image_size=32, renders=2)
    assert data.images.shape == (10, 32, 32, 3) and data.traits.shape == (10, len(TRAITS))
    expected = [sample_identity(TRAIT_FIRST_ID + i, 0).traits for i in range(5)]
    for row, label in zip(data.traits, data.labels, strict=True):
        assert np.allclose(row.numpy(), [expected[label][t] for t in TRAITS])
    assert len({tuple(t) for t in data.traits.tolist()}) == 5  # five people, two renders each
    expected_attrs = [sample_identity(TRAIT_FIRST_ID + i, 0).attributes for i in range(5)]
    expected_rows = [[float(expected_attrs[label][a]) for a in ATTRIBUTES] for label in data.labels]
    assert data.attrs.tolist() == expected_rows
    assert not np.array_equal(data.images[0].numpy(), data.images[1].numpy())  # nuisance differs


def test_fresh_people_are_drawn_as_the_world_grades_its_own():
    grading = Grading("fine", 0.25)
    graded = fresh_trait_set(6, seed=0, image_size=32, grading=grading)
    people = [grading.draw(TRAIT_FIRST_ID + i, 0) for i in range(6)]
    expected = render_identities(people, 1, 0, STREAM_JUDGE, 32)[:, 0]
    assert np.array_equal(graded.images.numpy(), expected)
    assert not np.array_equal(graded.images.numpy(), fresh_trait_set(6, seed=0, image_size=32).images.numpy())


def test_the_judge_draws_its_fresh_people_with_the_worlds_grading(tmp_path, monkeypatch):
    world = tmp_path / "world"
    world.mkdir()
    synthesize_world(section("synthesize", identities=8, images_per_identity=2, heldout_fraction=0.25,
                             graded_cues="fine", grade_margin=0.1), world)
    drawn = []

    def record(*args, grading, **kwargs):
        drawn.append(grading)
        raise KeyboardInterrupt  # what follows is the judge's training, tested above

    monkeypatch.setattr(train, "fresh_trait_set", record)
    with pytest.raises(KeyboardInterrupt):
        fit_and_evaluate(world, section("judge", renders_per_identity=2, epochs=1, width=4, embedding_dim=4,
                                        style_renders_per_identity=1), tmp_path / "judge")
    assert drawn == [Grading("fine", 0.1)]


def test_the_style_head_learns_from_renders_beside_their_own_paintings(tmp_path):
    """Each train identity's renders (the judge's first, and their round trips, reused) and the same
    poses painted: labels 1 and 0; held-out identities are not among them."""
    world = tmp_path / "world"
    world.mkdir()
    synthesize_world(section("synthesize", identities=10, images_per_identity=2, heldout_fraction=0.2), world)
    table = pd.read_parquet(world / "identities.parquet")
    params = section("judge", renders_per_identity=3, style_renders_per_identity=2)
    judge_data = with_round_trips(render_training_set(table, params, 32), darker)
    data = style_training_set(table, judge_data, params, darker)
    train = table[table["split"] == "train"]
    assert data.images.shape == (len(train) * 4, 32, 32, 3) and data.traits is None
    assert data.attrs[:, 0].tolist() == [1.0, 1.0, 0.0, 0.0] * len(train)
    first, second = identities_from_table(train)[:2]
    assert np.array_equal(data.images[:2].numpy(), render_identity(first, 2, params.seed, STREAM_JUDGE, 32))
    painted = render_identity(first, 2, params.seed, STREAM_JUDGE, 32, painting=True)
    assert np.array_equal(data.images[2:4].numpy(), painted)
    assert np.array_equal(data.images[4:6].numpy(), render_identity(second, 2, params.seed, STREAM_JUDGE, 32))
    assert np.array_equal(data.images[4:6].numpy(), judge_data.images[3:5].numpy())  # the judge's, sliced
    assert np.array_equal(data.round_trips.numpy(), darker(data.images.numpy()))  # each image's own trip
    assert style_training_set(table, render_training_set(table, params, 32), params).round_trips is None
