"""Single-image inversion into the weights2weights space: optimise only the PCA coefficients.

Starting from the mean model (c = 0 in standardised coordinates, i.e. the train mean), Adam follows
the diffusion denoising loss of the one image, under the fine-tuning prompt, at random timesteps.
The adapter is w(c) = mean + std * (c @ components), which is linear, so the gradient with respect
to c is components @ (std * dL/dw): the loss backpropagates into a K=1 batched LoRA and is chained
to the coefficients.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import StableDiffusionPipeline
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from w2w.adapters.layout import AdapterLayout, lora_layer_names
from w2w.adapters.lora import batched_lora, load_flat_adapters, shared_init
from w2w.base.latents import encode_images
from w2w.base.model import encode_prompts, training_scheduler
from w2w.errors import InputError
from w2w.fleet.train import averaged_steps, step_lr
from w2w.space.basis import Basis
from w2w.world.folder import rgb_on_white


class ImageError(InputError):
    """An input image that cannot be used, with the file named."""


MIN_IMAGE_SIDE = 16  # pixels on the shorter side; the miniature world draws whole faces in 32
# Adam's lr on coefficients / their train std, for `w2w invert` and the explorer; the evaluation's is
# params.yaml's evaluate_inversion.lr, kept equal by a test. Chosen on validation train identities
# inverted into a basis without them (studies/inversion_fit.py); the reference's too.
DEFAULT_LR = 0.1


def open_image(path: str | Path) -> Image.Image:
    """The image at `path`, fully read; ImageError naming the file for anything unusable."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from error
    if min(image.size) < MIN_IMAGE_SIDE:
        raise ImageError(f"{path}: {image.size[0]}x{image.size[1]} is too small to hold a face "
                         f"(at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels)")
    return image


def check_image(path: str | Path) -> None:
    """Refuse an unusable image before any model is loaded."""
    open_image(path)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """Any PIL-readable image as uint8 (size, size, 3): alpha composited on white, greyscale to RGB,
    centre-cropped to a square and resized (with a warning saying so), as the folder source does."""
    image = rgb_on_white(open_image(path))
    width, height = image.size
    if (width, height) != (size, size):
        how = "centre-cropped to a square and resized" if width != height else "resized"
        warnings.warn(f"{path}: {width}x{height} {how} to {size}x{size}", stacklevel=2)
        image = ImageOps.fit(image, (size, size), Image.Resampling.BICUBIC)
    return np.array(image, dtype=np.uint8)  # a writable copy: torch warns on read-only arrays


def invert(pipe: StableDiffusionPipeline, basis: Basis, layout: AdapterLayout, rank: int, alpha: float,
           image: np.ndarray, prompt: str, k: int, steps: int, lr: float, seed: int = 0, batch: int = 8,
           mask: np.ndarray | None = None, whiten: bool = True, progress: bool = True,
           on_step: Callable[[int], None] | None = None,
           timestep_range: tuple[int, int] | None = None, prior_weight: float = 0.0,
           lr_schedule: str = "constant", average_tail: float = 0.0) -> np.ndarray:
    """Coefficients (basis.k,) of the model of the identity in `image` (S, S, 3) uint8; only the
    first k are optimised. `mask` (S, S) in [0, 1] weights the loss (e.g. the face region).

    `whiten`: Adam works on c / sigma (sigma: the train std of each coefficient), so every step
    moves each component in proportion to its spread in the population, not by the same amount.
    `on_step(i)` runs after step i (a progress bar; an exception from it stops the inversion).
    `timestep_range` [low, high): where the noise timesteps are drawn; None: all of them.
    `prior_weight`: adds prior_weight / 2 * mean(z^2), z = c / sigma, to the loss: a Gaussian prior of
    the train population on the coefficients (0: none, the reference's).
    `lr_schedule`: "constant" (the reference's) or "cosine" (from lr down to 0 over the steps).
    `average_tail`: the result is the mean of the last fraction of iterates; 0: the last."""
    return invert_batch(pipe, basis, layout, rank, alpha, image[None], prompt, k, steps, lr, seed, batch,
                        mask, whiten, progress, on_step, timestep_range, prior_weight, lr_schedule,
                        average_tail)[0]


def invert_batch(pipe: StableDiffusionPipeline, basis: Basis, layout: AdapterLayout, rank: int,
                 alpha: float, images: np.ndarray, prompt: str, k: int, steps: int, lr: float,
                 seed: int = 0, batch: int = 8, mask: np.ndarray | None = None, whiten: bool = True,
                 progress: bool = True, on_step: Callable[[int], None] | None = None,
                 timestep_range: tuple[int, int] | None = None, prior_weight: float = 0.0,
                 lr_schedule: str = "constant", average_tail: float = 0.0) -> np.ndarray:
    """`invert` for K images (K, S, S, 3) in one pass: coefficients (K, basis.k). Image j draws its
    noise from seed + j, so its result equals `invert(images[j], seed=seed + j)`. Timesteps are drawn
    from `timestep_range` [low, high), by default the whole schedule (the reference's). `mask`: one
    (S, S) for every image, or one per image (K, S, S)."""
    scheduler = training_scheduler()
    total = scheduler.config.num_train_timesteps
    low, high = timestep_range or (0, total)
    if not 0 <= low < high <= total:  # before any work, so a bad range never costs an encode
        raise ValueError(f"timestep_range must be (low, high) with 0 <= low < high <= {total}, "
                         f"got {timestep_range}")
    step_lr(lr, lr_schedule, 0, steps)  # a bad schedule name fails here, before the encode
    if not 0.0 <= average_tail < 1.0:
        raise ValueError(f"average_tail must be in [0, 1), got {average_tail}")
    tail = averaged_steps(steps, average_tail)  # the last `tail` iterates are averaged
    k, n = min(k, basis.k), len(images)
    if mask is not None and np.ndim(mask) == 3 and len(mask) != n:  # before the encode, as the range
        raise ValueError(f"{len(mask)} inversion masks for {n} images")
    unet = pipe.unet
    unet.requires_grad_(False)
    x0 = torch.from_numpy(encode_images(pipe.vae, images))               # (K, C, h, w)
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, [prompt])[0]
    weight = latent_mask(mask, x0.shape[-2:])                             # (1 or K, 1, h, w)
    comps = torch.from_numpy(basis.components[:k]).float()               # (k, D)
    mean, std = (torch.from_numpy(a).float() for a in (basis.mean, basis.std))
    sigma = torch.from_numpy(np.sqrt(basis.explained_variance[:k]) if whiten else np.ones(k)).float()
    u = torch.zeros(n, k, requires_grad=True)  # c = sigma * u
    spread = torch.from_numpy(np.sqrt(basis.explained_variance[:k])).float()  # the prior's sd of c
    opt = torch.optim.Adam([u], lr=lr)
    u_sum = torch.zeros(n, k)  # the sum of the averaged iterates
    generators = [torch.Generator().manual_seed(seed + j) for j in range(n)]
    names = lora_layer_names(layout.keys)
    x0 = x0.repeat_interleave(batch, 0)                                   # (K*batch, C, h, w) image-major
    weight = weight.repeat_interleave(batch, 0) if len(weight) > 1 else weight  # (K*batch or 1, 1, h, w)
    ctx = context.expand(n * batch, *context.shape)
    with batched_lora(unet, names, shared_init([unet.get_submodule(nm) for nm in names], rank, 0), n,
                      alpha) as wrappers:
        params = [p for w in wrappers for p in (w.lora_a, w.lora_b)]
        for w in wrappers:
            w.blocks = True
        for step in tqdm(range(steps), desc="invert", unit="step", disable=not progress):
            load_flat_adapters(wrappers, layout, mean + std * ((sigma * u.detach()) @ comps))  # (K, D)
            noise = torch.cat([torch.randn((batch, *x0.shape[1:]), generator=g) for g in generators])
            t = torch.cat([torch.randint(low, high, (batch,), generator=g) for g in generators])
            pred = unet(scheduler.add_noise(x0, noise, t), t, encoder_hidden_states=ctx).sample
            per_image = (F.mse_loss(pred, noise, reduction="none") * weight).flatten(1).mean(1)
            loss = per_image.view(n, batch).mean(1).sum()  # each image's own mean: independent runs
            for p in params:
                p.grad = None
            loss.backward()
            grad_w = torch.cat([p.grad.flatten(1) for p in params], 1)      # (K, D) in layout order
            opt.zero_grad()
            u.grad = sigma * ((std * grad_w) @ comps.T)
            if prior_weight:  # d/du of prior_weight / 2 * mean((sigma * u / spread)^2)
                u.grad += prior_weight * sigma ** 2 * u.detach() / (spread ** 2 * k)
            opt.param_groups[0]["lr"] = step_lr(lr, lr_schedule, step, steps)
            opt.step()
            if step >= steps - tail:
                u_sum += u.detach()
            if on_step is not None:
                on_step(step)
    out = np.zeros((n, basis.k))
    out[:, :k] = (sigma * u_sum / tail).numpy()  # tail 1: the last iterate
    return out


def identity_recovery(found: np.ndarray, basis: Basis, identity_ids: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """How well inverted coefficients (K, k) of train identities `identity_ids` (K,) recover them,
    in the k leading components: distance to the own identity over distance to the mean (the
    origin; < 1: nearer the identity), and the own identity's rank among all train identities
    by distance (1: nearest)."""
    k = found.shape[1]
    row_of = {int(i): j for j, i in enumerate(basis.train_identity_ids)}
    everyone = basis.train_coefficients[:, :k]                                     # (n_train, k)
    own = np.linalg.norm(found - everyone[[row_of[int(i)] for i in identity_ids]], axis=1)
    ranks = (np.linalg.norm(found[:, None] - everyone[None], axis=2) < own[:, None]).sum(1) + 1
    return own / np.linalg.norm(found, axis=1), ranks


def latent_mask(mask: np.ndarray | None, size: torch.Size) -> torch.Tensor:
    """Pixel masks (S, S) or (K, S, S) resized to the latent grid (1 or K, 1, h, w), each scaled to
    mean 1 (so each image's loss is its weighted mean); ones when None."""
    if mask is None:
        return torch.ones(1, 1, *size)
    m = torch.as_tensor(np.asarray(mask, dtype=np.float32))
    m = F.interpolate((m[None] if m.dim() == 2 else m)[:, None], size=tuple(size), mode="area")
    sums = m.flatten(1).sum(1)
    if bool((sums == 0).any()):
        raise ValueError("the inversion mask is empty")
    return m / m.mean((1, 2, 3), keepdim=True)


@torch.no_grad()
def image_loss(pipe: StableDiffusionPipeline, basis: Basis, layout: AdapterLayout, scaling: float,
               image: np.ndarray, prompt: str, coefficients: np.ndarray, draws: int = 64, seed: int = 0
               ) -> float:
    """The denoising loss of `image` under the model at `coefficients`, over fixed noise draws."""
    from w2w.adapters.merge import merged

    x0 = torch.from_numpy(encode_images(pipe.vae, image[None])).expand(draws, -1, -1, -1)
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, [prompt])[0].expand(draws, -1, -1)
    generator, scheduler = torch.Generator().manual_seed(seed), training_scheduler()
    noise = torch.randn(x0.shape, generator=generator)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (draws,), generator=generator)
    with merged(pipe.unet, layout.unflatten(basis.to_weights(coefficients)), scaling):
        pred = pipe.unet(scheduler.add_noise(x0, noise, t), t, encoder_hidden_states=context).sample
    return float(F.mse_loss(pred, noise))
