"""Self-training on one image (or a batch of planes): the papers' loop, made fast.

Each iteration: forward; argmax labels; pseudo-targets (the labels, or their
superpixel modes); loss; SGD step. The only host round trip per iteration is one
small tensor (label count, loss, whether any label changed), needed anyway for the
stopping rules and the progress report.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, fields

from ..superpixels import superpixel_mode
from .allocation import reuse_freed_memory
from .losses import IGNORE, continuity_weight, self_training_loss


@dataclass
class TrainConfig:
    """What one training run does; each method's values come from its spec
    (:mod:`napari_unsupseg.cnn.specs`), ``None`` where its weighting leaves one unused."""

    max_iter: int
    min_labels: int  # stop when the label count falls to this (0: never)
    patience: int  # stop after this many iterations without a label change (0: never)
    lr: float
    momentum: float
    similarity_weight: float
    weighting: str  # "none", "fixed", "fsf" or "scf"
    continuity_weight: float | None
    p: float | None
    scribble_weight: float | None
    batch_size: int = 0  # samples per step when training on many (0: all)

    @classmethod
    def of(cls, settings, min_labels: int, batch_size: int = 0) -> TrainConfig:
        """The training part of a method's ``settings`` (``min_labels`` resolved)."""
        names = [f.name for f in fields(cls) if f.name not in ("min_labels", "batch_size")]
        return cls(**{n: settings[n] for n in names}, min_labels=int(min_labels),
                   batch_size=batch_size)  # fmt: skip


@dataclass
class TrainResult:
    target: object  # last forward's argmax labels, a tensor (batch, *spatial)
    batch: object  # indices of the samples ``target`` covers (None: all)
    iterations: int
    n_labels: int
    loss: float
    stopped_by: str  # "min_labels", "patience" or "max_iter"


def autocast_for(device):
    """bfloat16 mixed precision on CUDA GPUs that support it; nothing elsewhere."""
    import torch

    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def forward(net, x, amp=None):
    """The response map, float32. With mixed precision only the 3x3 body runs in
    bfloat16; the 1x1 head and its BatchNorm run in float32 so argmax has no ties."""
    if amp is None or isinstance(amp, nullcontext):
        return net(x)
    with amp:
        hidden = net[:-2](x)
    return net[-2:](hidden.float())


def make_optimizer(net, lr: float = 0.1, momentum: float = 0.9):
    import torch

    return torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)


def train_step(
    net,
    optimizer,
    x,
    config: TrainConfig,
    *,
    scribbles=None,
    superpixels=None,
    n_superpixels: int = 0,
    amp=None,
):
    """One forward/backward/update. Returns (labels, label count, loss) as tensors
    on the device: nothing is copied to the host here."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    response = forward(net, x, amp)
    n_classes = response.shape[1]
    target = response.detach().argmax(dim=1)
    n_labels = torch.count_nonzero(torch.bincount(target.reshape(-1), minlength=n_classes))
    pseudo = target
    if superpixels is not None:
        pseudo = superpixel_mode(target, superpixels, n_superpixels, n_classes)
    weight = continuity_weight(config.weighting, n_labels, config.continuity_weight, config.p)
    loss = self_training_loss(
        response, pseudo, scribbles, config.similarity_weight, config.scribble_weight, weight
    )
    loss.backward()
    optimizer.step()
    return target, n_labels, loss.detach()


def train(
    net,
    x,
    config: TrainConfig,
    *,
    reporter=None,
    preview: Callable | None = None,
    scribbles=None,
    superpixels=None,
    n_superpixels: int = 0,
    seed: int = 0,
) -> TrainResult:
    """Train ``net`` on ``x`` (batch, channels, *spatial) until a stopping rule fires.

    ``preview(target, batch)`` turns the current labels into a numpy array for live
    previews; it is only called when the reporter wants one. With ``batch_size`` set
    and more samples than that, each step uses a seeded random subset of samples.
    """
    import torch

    device = x.device
    amp = autocast_for(device)
    optimizer = make_optimizer(net, config.lr, config.momentum)
    net.train()
    generator = torch.Generator().manual_seed(seed)
    n_samples = x.shape[0]
    subset = 0 < config.batch_size < n_samples
    previous, stable, batch = None, 0, None
    state = TrainResult(None, None, 0, 0, float("nan"), "max_iter")
    step_samples = config.batch_size if subset else n_samples
    response_bytes = 4 * step_samples * x[0, 0].numel() * net[-1].num_features
    if device.type != "cpu":  # GPU memory has its own caching allocator
        response_bytes = 0
    with reuse_freed_memory(response_bytes):  # the same big buffers every iteration
        for iteration in range(1, config.max_iter + 1):
            xb, sb, pb = x, scribbles, superpixels
            if subset:
                batch = torch.randperm(n_samples, generator=generator)[: config.batch_size]
                batch = batch.sort().values.to(device)
                xb = x[batch]
                sb = None if scribbles is None else scribbles[batch]
                pb = None if superpixels is None else superpixels[batch]
            target, n_labels, loss = train_step(
                net, optimizer, xb, config, scribbles=sb, superpixels=pb,
                n_superpixels=n_superpixels, amp=amp,
            )  # fmt: skip
            track = config.patience > 0 and not subset
            changed = (target != previous).any() if track and previous is not None else None
            flags = [n_labels.to(torch.float64), loss.to(torch.float64)]
            if changed is not None:
                flags.append(changed.to(torch.float64))
            values = torch.stack(flags).tolist()  # the one host round trip
            q, loss_value = int(values[0]), values[1]
            state = TrainResult(target, batch, iteration, q, loss_value, "max_iter")
            if reporter is not None:

                def labels(target=target, batch=batch):
                    return preview(target, batch)

                reporter.update(
                    iteration,
                    config.max_iter,
                    n_labels=q,
                    loss=loss_value,
                    labels=labels if preview is not None else None,
                    stage="training",
                    goal=config.min_labels or None,
                )
            if config.min_labels > 0 and q <= config.min_labels:
                state.stopped_by = "min_labels"
                break
            if track:
                stable = stable + 1 if changed is not None and not values[2] else 0
                if stable >= config.patience:
                    state.stopped_by = "patience"
                    break
                previous = target
    return state


def scribble_targets(scribbles, n_channels: int):
    """Map user scribble ids (0 = none) to channel indices 0..S-1 and IGNORE elsewhere.
    Returns (int64 numpy array, number of scribble classes)."""
    import numpy as np

    scribbles = np.asarray(scribbles)
    classes = np.unique(scribbles[scribbles > 0])
    if classes.size > n_channels:
        raise ValueError(
            f"{classes.size} scribble classes but only n_channels={n_channels} output channels"
        )
    out = np.full(scribbles.shape, IGNORE, dtype=np.int64)
    drawn = scribbles > 0
    out[drawn] = np.searchsorted(classes, scribbles[drawn])
    return out, int(classes.size)
