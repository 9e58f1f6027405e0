"""The training loop of adversarial output-space adaptation (Tsai et al. 2018).

Each iteration, on random crops of both domains:

1. segmenter step: cross-entropy on the labelled source crops, plus ``lambda_adv``
   times the adversarial loss: the discriminator's binary cross-entropy on the
   target's softmax maps against the *source* answer (the segmenter learns to make
   its target outputs look like its source outputs). The discriminator is frozen here.
2. discriminator step: binary cross-entropy telling the source's softmax maps (answer
   1) from the target's (answer 0), both detached from the segmenter.

Training starts from scratch (the paper starts from an ImageNet-trained DeepLab), so
the first ``warmup`` iterations train on the source alone: the discriminator then
compares target outputs with meaningful source outputs from its first step. Both
learning rates decay polynomially (power 0.9), as in the paper.

With ``lambda_adv=0`` the discriminator is never built: plain training on the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: class index of source pixels that teach nothing (label 0 when it means "unlabelled")
IGNORE = -100


@dataclass
class AdaptConfig:
    """What one run does; the defaults are the method's parameters (``specs.py``)."""

    max_iter: int
    warmup: int
    lambda_adv: float
    lr: float
    lr_discriminator: float
    crop_size: int
    batch_size: int
    width: int
    discriminator_width: int


@dataclass
class AdaptResult:
    iterations: int
    loss_segmentation: float
    loss_adversarial: float
    loss_discriminator: float


def crop_size_for(samples, crop_size: int) -> tuple[int, int]:
    """The (rows, columns) of every crop of a domain: ``crop_size`` or the smallest
    sample's side, whichever is smaller (crops of one batch share their size)."""
    rows = min(int(s.shape[-2]) for s in samples)
    cols = min(int(s.shape[-1]) for s in samples)
    return min(crop_size, rows), min(crop_size, cols)


def draw_crops(samples, labels, size, count: int, rng: np.random.Generator):
    """``count`` random crops of ``size`` from ``samples`` (a list of (C, Y, X) numpy
    arrays; ``labels`` a matching list of (Y, X) arrays or None), each randomly
    flipped or transposed (square crops): the eight symmetries of the square, which
    hold for microscopy and multiply what one annotated image teaches. Crops are cut
    on the host, so a long stack never has to fit in GPU memory."""
    images, targets = [], []
    for _ in range(count):
        index = int(rng.integers(len(samples)))
        y = int(rng.integers(samples[index].shape[-2] - size[0] + 1))
        x = int(rng.integers(samples[index].shape[-1] - size[1] + 1))
        window = (slice(y, y + size[0]), slice(x, x + size[1]))
        flips = [axis for axis, flip in zip((-2, -1), rng.integers(2, size=2), strict=True) if flip]
        transpose = size[0] == size[1] and bool(rng.integers(2))
        image = samples[index][(slice(None), *window)]
        label = None if labels is None else labels[index][window]
        if flips:
            image = np.flip(image, flips)
            label = None if label is None else np.flip(label, flips)
        if transpose:
            image = np.swapaxes(image, -2, -1)
            label = None if label is None else np.swapaxes(label, -2, -1)
        images.append(image)
        targets.append(label)
    return np.stack(images), (None if labels is None else np.stack(targets))


def _to_device(array, device):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def _poly_decay(optimizers, base_rates, iteration: int, max_iter: int) -> None:
    """The paper's schedule: rate x (1 - iteration / max_iter) ** 0.9."""
    factor = (1 - iteration / max_iter) ** 0.9
    for optimizer, rate in zip(optimizers, base_rates, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = rate * factor


def adapt(
    segmenter,
    source,
    source_classes,
    target,
    config: AdaptConfig,
    *,
    seed: int = 0,
    reporter=None,
    preview: Callable | None = None,
) -> AdaptResult:
    """Train ``segmenter`` on ``source`` (list of (C, Y, X) float32 numpy arrays) with
    class indices ``source_classes`` (list of (Y, X) int64 arrays, IGNORE where
    unlabelled) while adapting it to ``target`` (list of (C, Y, X)), on the device
    the segmenter is on. ``preview()`` gives the current labels for live previews; it
    is only called when the reporter wants one.
    """
    import torch
    import torch.nn.functional as F

    from .net import build_discriminator

    device = next(segmenter.parameters()).device
    rng = np.random.default_rng(seed)
    adversarial = config.lambda_adv > 0
    optimizers = [torch.optim.Adam(segmenter.parameters(), lr=config.lr, betas=(0.9, 0.99))]
    rates = [config.lr]
    if adversarial:
        n_classes = segmenter[-1].out_channels
        discriminator = build_discriminator(n_classes, config.discriminator_width, seed)
        discriminator = discriminator.to(device)
        optimizers.append(
            torch.optim.Adam(
                discriminator.parameters(), lr=config.lr_discriminator, betas=(0.9, 0.99)
            )
        )
        rates.append(config.lr_discriminator)
    source_size = crop_size_for(source, config.crop_size)
    target_size = crop_size_for(target, config.crop_size)
    result = AdaptResult(0, float("nan"), float("nan"), float("nan"))
    segmenter.train()
    for iteration in range(1, config.max_iter + 1):
        _poly_decay(optimizers, rates, iteration - 1, config.max_iter)
        xs, ys = draw_crops(source, source_classes, source_size, config.batch_size, rng)
        xs, ys = _to_device(xs, device), _to_device(ys, device)
        optimizers[0].zero_grad(set_to_none=True)
        source_logits = segmenter(xs)
        loss = F.cross_entropy(source_logits, ys, ignore_index=IGNORE)
        losses = [loss.detach()]
        adapting = adversarial and iteration > config.warmup
        if adapting:
            xt = _to_device(
                draw_crops(target, None, target_size, config.batch_size, rng)[0], device
            )
            target_soft = F.softmax(segmenter(xt), dim=1)
            discriminator.requires_grad_(False)
            said = discriminator(target_soft)
            loss_adv = F.binary_cross_entropy_with_logits(said, torch.ones_like(said))
            loss = loss + config.lambda_adv * loss_adv
            losses.append(loss_adv.detach())
        loss.backward()
        optimizers[0].step()
        if adapting:
            discriminator.requires_grad_(True)
            optimizers[1].zero_grad(set_to_none=True)
            said_source = discriminator(F.softmax(source_logits.detach(), dim=1))
            said_target = discriminator(target_soft.detach())
            loss_disc = 0.5 * (
                F.binary_cross_entropy_with_logits(said_source, torch.ones_like(said_source))
                + F.binary_cross_entropy_with_logits(said_target, torch.zeros_like(said_target))
            )
            loss_disc.backward()
            optimizers[1].step()
            losses.append(loss_disc.detach())
        values = torch.stack(losses).double().tolist()  # the one host round trip
        values += [float("nan")] * (3 - len(values))
        result = AdaptResult(iteration, *values)
        if reporter is not None:
            reporter.update(
                iteration,
                config.max_iter,
                loss=result.loss_segmentation,
                labels=preview,
                stage="training" if not adapting else "adapting",
            )
    segmenter.eval()
    return result
