"""The network of Kanezaki (2018) and Kim et al. (2020), in 2D or 3D.

conv3x3 -> ReLU -> BN, (n_conv - 1) x [conv3x3 -> ReLU -> BN], conv1x1 -> BN. No
pooling, so the response has the input's size; the BatchNorm'd response is both the
logits and, after argmax, the label map.
"""

from __future__ import annotations


def build_net(in_channels: int, n_channels: int = 100, n_conv: int = 2, ndim: int = 2, seed=0):
    """The papers' network as an ``nn.Sequential``, initialised from ``seed``.

    PyTorch's default initialisation draws from the global generator; it is forked and
    seeded here so that the same seed gives the same weights whatever ran before, and
    the caller's random state is left untouched.
    """
    import torch
    from torch import nn

    if ndim not in (2, 3):
        raise ValueError(f"the network is 2D or 3D, not {ndim}D")
    conv = nn.Conv2d if ndim == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [conv(in_channels, n_channels, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(norm(n_channels))
        for _ in range(n_conv - 1):
            layers += [conv(n_channels, n_channels, 3, padding=1), nn.ReLU(inplace=True)]
            layers.append(norm(n_channels))
        layers += [conv(n_channels, n_channels, 1), norm(n_channels)]
        net = nn.Sequential(*layers)
    fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
    return net.to(memory_format=fmt)


def channels_last(x):
    """``x`` (batch, channels, *spatial) in channels-last memory: oneDNN's and cuDNN's
    fast layout, which halves the convolutions' time on a CPU and makes the per-pixel
    argmax read contiguous memory. Values are unchanged."""
    import torch

    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    if x.dim() == 5:
        return x.contiguous(memory_format=torch.channels_last_3d)
    return x


def split_head(net):
    """(body, head): the layers up to the hidden features, and conv1x1 -> BN."""
    return net[:-2], net[-2:]


def halo(net) -> int:
    """Pixels of context each output pixel needs on every side (one per 3x3 conv)."""
    return sum(1 for layer in net if getattr(layer, "kernel_size", (1,))[0] == 3)


def freeze_batchnorm(net, batches) -> None:
    """Set every BatchNorm's running statistics to the exact batch statistics of a
    train-mode pass over ``batches`` (an iterable of input tensors), then switch the
    network to eval mode.

    The papers predict with BatchNorm in training mode, i.e. with the statistics of the
    image being labelled. To label tiles of a big image, or many planes, with one and
    the same function, the statistics must not depend on the tile: they are taken once
    from the training input (cumulative average over ``batches``) and frozen.
    """
    import torch
    from torch import nn

    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: exact mean over the batches
    net.train()
    with torch.no_grad():
        for x in batches:
            net(x)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    net.eval()
