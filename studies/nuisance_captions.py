"""Can the captions carry each render's nuisance, so that the adapters need not? (issue 17)

    python studies/nuisance_captions.py [--identities N] [--share-identities N]
    # about 25 minutes the first time (a base UNet), 5 once it is kept under studies/runs/

Each adapter records its renders' pose, light and smile more than the person (the identity share,
README "How much of an adapter is the person": with each identity's pose fixed the share doubles).
The fleet trains with "sks person" alone, so the one thing that can explain a render's pose to the
model is the adapter. Here the captions say it: each render's nuisance is coded in words that the
world's renderer knows exactly (rotation, size, shift across and down, brightness, light direction,
light strength and smile, each in 5 bins, the light's direction in 8), added to the tokenizer and
to the frozen random text encoder as new tokens (the old tokens' embeddings, and so every old
prompt's, unchanged). The base's UNet is trained again as the base stage trains it, on the same
latent cache, seeing every render once with its identity's caption and once with that caption
and its codes. Fleet models are then trained on it with "sks person" plus each render's codes, and
sampled, as every model here is, with "sks person" alone: the codes explain the nuisance while
training and are left out when the person is asked for.

Train identities only (never held-out), against the committed base and recipe and against the
coded base with the plain prompt (which separates the base's retraining from the codes):
- fleet models of `--identities` train identities on the world's 8 renders (as `fleet_fit.py`):
  the judge's similarity and the trait error, paired;
- the identity share of `--share-identities` train identities (as `identity_share.py`: two
  adapters on disjoint halves of 8 fresh renders, standardised cosine), paired.
Needs `dvc repro judge`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from fleet_fit import MEASURED_RENDERS, ci, difference, open_study, world_masks  # studies/ on sys.path
from identity_share import STREAM, drawn_nuisances, fixed_renders

from w2w.adapters.layout import AdapterLayout
from w2w.base.denoiser import train_unet
from w2w.base.model import build_unet, encode_prompts, sampling_scheduler, training_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.evaluate.context import Context
from w2w.evaluate.ladder import model_rung
from w2w.evaluate.share import OTHER_HALF, adapter_cosines, encode_renders
from w2w.evaluate.stats import sample_rows
from w2w.fleet.config import fleet_config
from w2w.fleet.train import train_identities
from w2w.params import FinetuneParams, load_params
from w2w.storage import STREAM_IMAGES
from w2w.world.captions import GENERIC_PROMPT, identity_captions
from w2w.world.dataset import identities_from_table
from w2w.world.render import Nuisance, render_face

RUNS = Path("studies/runs")
BINS = 5
LIGHT_DIRECTIONS = 8
# (code word, the render's value, the range sample_nuisance draws it from)
FIELDS: tuple[tuple[str, Callable[[Nuisance], float], float, float], ...] = (
    ("nzrot", lambda n: n.rotation_deg, -6.0, 6.0),
    ("nzsize", lambda n: n.scale, 0.95, 1.05),
    ("nzacross", lambda n: n.shift[0], -0.04, 0.04),
    ("nzdown", lambda n: n.shift[1], -0.04, 0.04),
    ("nzbright", lambda n: n.brightness, 0.92, 1.08),
    ("nzlit", lambda n: n.light_strength, 0.0, 0.12),
    ("nzsmile", lambda n: n.smile, -0.3, 1.0),
)
CODE_WORDS = [f"{name}{b}" for name, *_ in FIELDS for b in range(BINS)] + [
    f"nzfrom{d}" for d in range(LIGHT_DIRECTIONS)]


def codes(n: Nuisance) -> str:
    """The render's nuisance in code words, e.g. 'nzrot2 nzsize0 ... nzfrom5' (8 tokens)."""
    words = [f"{name}{min(BINS - 1, int((value(n) - lo) / (hi - lo) * BINS))}"
             for name, value, lo, hi in FIELDS]
    direction = int(n.light_angle / (2 * np.pi) * LIGHT_DIRECTIONS) % LIGHT_DIRECTIONS
    return " ".join(words + [f"nzfrom{direction}"])


def add_code_words(ctx: Context) -> None:
    """Teach the context's tokenizer and text encoder the code words, in place (new rows of the
    embedding table, seeded); every old prompt encodes to the same hidden states."""
    pipe = ctx.pipe
    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    probe = ["sks person", GENERIC_PROMPT, ""]
    with torch.no_grad():
        before = encode_prompts(encoder, tokenizer, probe)
    tokenizer.add_tokens(CODE_WORDS)
    torch.manual_seed(1)
    encoder.resize_token_embeddings(len(tokenizer))
    with torch.no_grad():
        after = encode_prompts(encoder, tokenizer, probe)
    if not torch.equal(before, after):
        raise RuntimeError("adding the code words changed how old prompts encode")


def coded_unet(ctx: Context, cache, p, coded: bool = True) -> UNet2DConditionModel:
    """The base stage's UNet training on the latent cache, every train render seen twice: with its
    identity's caption and with that caption plus its codes (or, `coded` False, with the caption
    again: the control, whose batches are the same draws); kept under studies/runs/."""
    kind = "nuisance_codes" if coded else "nuisance_control"
    folder = RUNS / f"base_unet{p.unet_steps}_lr{p.unet_lr:g}_heads{p.attention_heads}_{kind}"
    if (folder / "config.json").is_file():
        return UNet2DConditionModel.from_pretrained(folder).eval().requires_grad_(False)
    synth = load_params().synthesize
    latents = np.asarray(cache[:])                                      # (N, K, C, h, w)
    train = np.flatnonzero((ctx.table["split"] == "train").to_numpy())
    captions = identity_captions(ctx.world, ctx.table)
    per = latents.shape[1]
    people = identities_from_table(ctx.table.iloc[train])
    with_codes = [f"{captions[r]} {codes(x)}" for r, i in zip(train, people, strict=True)
                  for x in drawn_nuisances(i, per, synth.seed, STREAM_IMAGES)]
    with torch.no_grad():
        embeddings = encode_prompts(ctx.pipe.text_encoder, ctx.pipe.tokenizer,
                                    ["", GENERIC_PROMPT, *captions, *with_codes])
    renders = torch.from_numpy(latents[train].reshape(-1, *latents.shape[2:]))  # (M, C, h, w)
    plain_idx = np.repeat(train, per)
    coded_idx = len(captions) + np.arange(len(with_codes)) if coded else plain_idx
    start = time.perf_counter()
    unet = train_unet(build_unet(p, latents.shape[-1]), torch.cat([renders, renders]),
                      np.concatenate([plain_idx, coded_idx]), embeddings, p)
    print(f"{kind} base: UNet trained in {time.perf_counter() - start:.0f} s", flush=True)
    unet.save_pretrained(folder, safe_serialization=True)
    return unet.requires_grad_(False)


@contextmanager
def row_contexts(unet: torch.nn.Module, contexts: torch.Tensor) -> Iterator[None]:
    """Every UNet call denoises its rows under `contexts` (B, L, D), one per row, whatever it is
    passed: the fleet's trainer encodes one prompt for all rows."""
    original = unet.forward

    def forward(sample, timestep, encoder_hidden_states=None, **kwargs):
        if len(sample) != len(contexts):
            raise ValueError(f"{len(sample)} rows against {len(contexts)} contexts")
        return original(sample, timestep, encoder_hidden_states=contexts, **kwargs)

    unet.forward = forward
    try:
        yield
    finally:
        del unet.forward


def train_fleet(ctx: Context, latents: torch.Tensor, masks: torch.Tensor, ids: list[int], p: FinetuneParams,
                prompts: list[list[list[str]]]) -> tuple[np.ndarray, AdapterLayout]:
    """(M, D) adapters as the fleet trains them, latents and masks (M, n, ...), each image's draws
    under their own prompts: prompts[i][j][d] for identity i, image j, draw d."""
    pipe, block, out = ctx.pipe, p.identities_per_shard, []
    cfg = fleet_config(p)
    plain = encode_prompts(pipe.text_encoder, pipe.tokenizer, [p.prompt])[0]
    for s in range(0, len(ids), block):
        rows = [prompt for identity in prompts[s:s + block] for image in identity for prompt in image]
        with torch.no_grad():
            contexts = encode_prompts(pipe.text_encoder, pipe.tokenizer, rows)   # (k*n*draws, L, D)
        with row_contexts(pipe.unet, contexts):
            weights, _ = train_identities(pipe.unet, training_scheduler(), latents[s:s + block],
                                          ids[s:s + block], plain, cfg, None, masks[s:s + block])
        layout = AdapterLayout.from_weights(weights, True)
        out.append(layout.flatten(weights, True))
    return np.concatenate(out), layout


PROMPTING = {  # how each image's draws are prompted while training
    "plain": lambda code, draws: ["sks person"] * draws,
    "coded": lambda code, draws: [f"sks person {code}"] * draws,
    "coded_half": lambda code, draws: [f"sks person {code}", "sks person"] * (draws // 2),  # draws alternate
}


def prompts_for(image_codes: list[list[str]], how: str, draws: int) -> list[list[list[str]]]:
    return [[PROMPTING[how](code, draws) for code in identity] for identity in image_codes]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=32)
    parser.add_argument("--share-identities", type=int, default=24)
    args = parser.parse_args(argv)
    params = load_params()
    p, pf, synth = params.evaluate_inversion, params.finetune, params.synthesize
    if pf.draws_per_image % 2 or pf.background_weight >= 1:
        sys.exit("the study pairs each image's draws and weights the loss to the person, as the fleet "
                 "was measured: finetune.draws_per_image must be even, background_weight < 1")
    committed, cache, rows, references, truth = open_study(args.identities)
    add_code_words(committed)  # old prompts encode as before, so the committed runs are unchanged
    ctx = committed
    pipe = ctx.pipe
    coded_ctx, control_ctx = (
        dataclasses.replace(ctx, pipe=assemble_pipeline(pipe.vae, pipe.text_encoder, pipe.tokenizer,
                                                        coded_unet(ctx, cache, params.base, coded),
                                                        sampling_scheduler()))
        for coded in (True, False))
    scaling = pf.lora_alpha / pf.rank

    # fleet models on the world's renders
    table = ctx.table.iloc[rows]
    identities = identities_from_table(table)
    ids = [i.identity_id for i in identities]
    latents = torch.from_numpy(np.stack([np.asarray(cache[r, :MEASURED_RENDERS]) for r in rows]))
    masks = world_masks(ctx, rows, MEASURED_RENDERS)
    image_codes = [[codes(x) for x in drawn_nuisances(i, MEASURED_RENDERS, synth.seed, STREAM_IMAGES)]
                   for i in identities]
    check = render_face(identities[0], drawn_nuisances(identities[0], 1, synth.seed, STREAM_IMAGES)[0],
                        synth.image_size, False)
    if not np.array_equal(check, np.asarray(ctx.images[rows[0], 0])):
        raise RuntimeError("the recomputed nuisance does not redraw the world's render")
    asked = drawn_nuisances(identities[0], len(p.prompts), synth.seed, STREAM + 2)  # not a training draw
    sampling_prompts = [f"{prompt} {codes(x)}" for prompt, x in zip(p.prompts, asked, strict=True)]
    runs = [("committed base, plain", committed, "plain"), ("control base, plain", control_ctx, "plain"),
            ("coded base, plain", coded_ctx, "plain"),
            ("coded base, coded", coded_ctx, "coded"), ("coded base, coded_half", coded_ctx, "coded_half")]
    rungs = {}
    for name, c, how in runs:
        c.pipe.unet.requires_grad_(False)
        adapters, layout = train_fleet(c, latents, masks, ids, pf, prompts_for(image_codes, how,
                                                                                 pf.draws_per_image))
        trained = dataclasses.replace(c, layout=layout, scaling=scaling)
        with torch.no_grad():
            rungs[name] = model_rung(trained, name, adapters, references, truth, p)
            if how == "coded":  # asked for with a drawn nuisance's codes, as it was trained
                coded_p = p.model_copy(update={"prompts": sampling_prompts})
                rungs[f"{name}, sampled coded"] = model_rung(trained, name, adapters, references, truth,
                                                             coded_p)
    for name, rung in rungs.items():
        line = (f"fleet {name:38s} similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}   "
                f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}")
        refs = ["committed base, plain"] + (["control base, plain", "coded base, plain"]
                                            if name.startswith("coded") else [])
        for ref in refs:
            if name != ref:
                line += (f"\n      vs {ref}: {difference(rung.similarity, rungs[ref].similarity)}, "
                         f"trait {difference(rung.trait_error, rungs[ref].trait_error)}")
        print(line + f"   ({len(rows)} train identities)", flush=True)

    # the identity share, on identity_share.py's train identities and fresh renders
    share_rows = sample_rows(ctx.heldout, False, args.share_identities, seed=17)
    people = identities_from_table(ctx.table.iloc[share_rows])
    drawn = [fixed_renders(i, 8, synth.seed, STREAM, synth.image_size, lambda x: x) for i in people]
    share_codes = [[codes(x) for x in drawn_nuisances(i, 8, synth.seed, STREAM)] for i in people]
    share_ids = [i.identity_id for i in people]
    images_latents = encode_renders(ctx.pipe, np.stack([d[0] for d in drawn]))   # (M, 8, C, h, w): one VAE
    share_masks = torch.from_numpy(np.stack([d[1] for d in drawn]))
    shares = {}
    for name, c, how in runs:
        halves = []
        for half, offset in ((slice(0, 4), 0), (slice(4, 8), OTHER_HALF)):
            prompts = prompts_for([x[half] for x in share_codes], how, pf.draws_per_image)
            halves.append(train_fleet(c, images_latents[:, half], share_masks[:, half],
                                      [i + offset for i in share_ids], pf, prompts)[0])
        shares[name], others = adapter_cosines(*halves)
        line = (f"share {name:38s} {shares[name].mean():.3f} {ci(shares[name])}   different identities "
                f"{others.mean():+.3f}")
        for ref in shares:
            if ref != name and (ref.startswith("committed") or name.startswith("coded")):
                line += f"\n      vs {ref}: {difference(shares[name], shares[ref])}"
        print(line + f"   ({len(share_rows)} train identities, 4 renders per half)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
