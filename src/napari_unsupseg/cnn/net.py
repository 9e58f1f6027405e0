"""The network of Kanezaki (2018) and Kim et al. (2020), in 2D or 3D.

conv3x3 -> ReLU -> BN, (n_conv - 1) x [conv3x3 -> ReLU -> BN], conv1x1 -> BN. No
pooling, so the response has the input's size; the BatchNorm'd response is both the
logits and, after argmax, the label map.
"""

from __future__ import annotations


def build_net(in_channels: int, n_channels: int = 100, n_conv: int = 2, ndim: int = 2, seed=0):
    """The papers' network as an ``nn.Sequential``, initialised from ``seed``.

    The weights are PyTorch's default initialisation, drawn from a generator of the
    network's own: the global generator is shared by every thread of the process, so
    two networks built at once (a Dask worker running several images) would draw from
    it in turn and get each other's numbers. The values are those the global
    generator gives after ``torch.manual_seed(seed)``, and it is left untouched.
    """
    import torch
    from torch import nn

    if ndim not in (2, 3):
        raise ValueError(f"the network is 2D or 3D, not {ndim}D")
    conv = nn.Conv2d if ndim == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d
    generator = torch.Generator().manual_seed(seed)
    layers = [_seeded_conv(conv, in_channels, n_channels, 3, generator), nn.ReLU(inplace=True)]
    layers.append(norm(n_channels))
    for _ in range(n_conv - 1):
        layers += [_seeded_conv(conv, n_channels, n_channels, 3, generator), nn.ReLU(inplace=True)]
        layers.append(norm(n_channels))
    layers += [_seeded_conv(conv, n_channels, n_channels, 1, generator), norm(n_channels)]
    net = nn.Sequential(*layers)
    fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
    return net.to(memory_format=fmt)


def _seeded_conv(conv, in_channels: int, out_channels: int, kernel_size: int, generator):
    """``conv(in_channels, out_channels, kernel_size)`` (padded to keep the size) with
    the values of PyTorch's ``reset_parameters`` (Kaiming-uniform weights with a = √5,
    uniform bias), drawn from ``generator``."""
    import math

    import torch
    from torch import nn

    layer = nn.utils.skip_init(
        conv, in_channels, out_channels, kernel_size, padding=kernel_size // 2
    )
    fan_in = layer.weight[0].numel()
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        bias_bound = 1 / math.sqrt(fan_in)
        layer.bias.uniform_(-bias_bound, bias_bound, generator=generator)
    return layer


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
