"""The two networks of adversarial output-space adaptation (Tsai et al. 2018, "Learning
to Adapt Structured Output Space for Semantic Segmentation"), made small for one image.

The segmenter is a fully convolutional stack of 3x3 convolutions with growing dilation
(atrous convolutions, the idea of the DeepLab network the paper adapts): a wide context
at full resolution, no pooling, so each output pixel is a function of a fixed
neighbourhood and tiled prediction equals whole-image prediction. No BatchNorm: its
statistics would differ between the domains and silently adapt (or not) on their own.

The discriminator is the paper's: five 4x4 convolutions of stride 2 with leaky ReLUs,
reading the segmenter's softmax maps and giving a map of "came from the source" logits.
"""

from __future__ import annotations

#: dilations of the segmenter's 3x3 convolutions: a 31x31 pixel context
DILATIONS = (1, 2, 4, 8, 1)
#: the smallest crop the discriminator's five stride-2 layers can read
MIN_SIZE = 32


def halo() -> int:
    """Pixels of context each output pixel needs on every side."""
    return sum(DILATIONS)


def build_segmenter(in_channels: int, n_classes: int, width: int = 32, seed: int = 0):
    """Dilated 3x3 convolutions with ReLUs, then a 1x1 classifier: class logits.
    Initialised from ``seed`` in a forked generator (the caller's state is kept)."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, channels = [], in_channels
        for dilation in DILATIONS:
            layers += [
                nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation),
                nn.ReLU(inplace=True),
            ]
            channels = width
        layers.append(nn.Conv2d(width, n_classes, 1))
        for layer in layers:  # He et al.'s initialisation: trains from scratch faster
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        return nn.Sequential(*layers)


def build_discriminator(n_classes: int, width: int = 64, seed: int = 0):
    """Tsai et al.'s discriminator: 4x4 convolutions, stride 2, widths w, 2w, 4w, 8w,
    leaky ReLU (0.2), and a 4x4 classifier to one logit map."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)  # not the segmenter's stream
        layers, channels = [], n_classes
        for factor in (1, 2, 4, 8):
            layers += [
                nn.Conv2d(channels, width * factor, 4, stride=2, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = width * factor
        layers.append(nn.Conv2d(channels, 1, 4, stride=2, padding=1))
        return nn.Sequential(*layers)
