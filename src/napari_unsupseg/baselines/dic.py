"""Deep Image Clustering (Zhou & Wei, "DIC: Deep Image Clustering for Unsupervised
Image Segmentation", IEEE Access 2020), trained on the image it segments.

The feature transformation subnetwork (FTS) is a small U-Net: two 3x3 convolutions
(each with BatchNorm and ReLU) at ``width`` channels, a 2x2 max-pooling and two more
at 2 x ``width``, bilinear upsampling, concatenation with the first level and two
3x3 convolutions back to 2 x ``width``, then a 1x1 convolution and BatchNorm to
``n_channels`` features (the authors' code: width 64, 100 features).

The deep clustering subnetwork (DCS) clusters those features: a 1x1 convolution,
then ``em_steps`` expectation-maximisation steps from ``n_centres`` random unit
centres (soft assignments z = softmax over centres of feature . centre; centres =
the assignment-weighted mean features, normalised), the features rebuilt from the
centres and assignments, ReLU, a 1x1 convolution, plus the FTS features (a residual
connection), ReLU. As in the authors' code the EM steps carry no gradient.

Training, the superpixel-guided iterative refinement: each pixel's label is the
argmax of the DCS output; every superpixel takes its most frequent label (the
target); the loss is the cross-entropy of the output against the target; SGD with
momentum 0.9; stop after ``max_iter`` iterations or when at most ``min_labels``
labels are left (the authors' code: lr 0.05, 100 iterations, stop below 4 labels).
The final labels are the full-size labels refined the same way.
"""

from __future__ import annotations

import math

import numpy as np


def values_per_pixel(params) -> int:
    """Activations per training pixel: the U-Net's maps (about 3 per 3x3 layer, the
    pooled level a quarter), the features and the DCS's maps, and the centres'
    assignments."""
    width, c, k = int(params["width"]), int(params["n_channels"]), int(params["n_centres"])
    return int(3 * (2 * width + 2 * 2 * width / 4 + 2 * 2 * width + 3 * width) + 8 * c + 2 * k)


def build_net(in_channels: int, width: int, n_channels: int, n_centres: int, em_steps: int):
    import torch
    import torch.nn.functional as F
    from torch import nn

    def double_conv(c_in, c_out):
        layers = []
        for c in (c_in, c_out):
            layers += [nn.Conv2d(c, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        return nn.Sequential(*layers)

    class DCS(nn.Module):
        """The deep clustering subnetwork (see the module's docstring)."""

        def __init__(self):
            super().__init__()
            centres = torch.randn(1, n_channels, n_centres) * math.sqrt(2.0 / n_centres)
            self.register_buffer("centres", F.normalize(centres, dim=1, eps=1e-6))
            self.conv1 = nn.Conv2d(n_channels, n_channels, 1)
            self.conv2 = nn.Conv2d(n_channels, n_channels, 1, bias=False)

        def forward(self, x):
            b, c, h, w = x.shape
            flat = self.conv1(x).reshape(b, c, h * w)
            centres = self.centres.expand(b, -1, -1)
            with torch.no_grad():
                for _ in range(em_steps):
                    z = torch.bmm(flat.transpose(1, 2), centres).softmax(dim=2)  # b, n, k
                    weights = z / (1e-6 + z.sum(dim=1, keepdim=True))
                    centres = F.normalize(torch.bmm(flat, weights), dim=1, eps=1e-6)
                rebuilt = torch.bmm(centres, z.transpose(1, 2)).reshape(b, c, h, w)
            return F.relu(self.conv2(F.relu(rebuilt)) + x)

    class DICNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = double_conv(in_channels, width)
            self.second = double_conv(width, 2 * width)
            self.merge = double_conv(3 * width, 2 * width)
            self.features = nn.Sequential(
                nn.Conv2d(2 * width, n_channels, 1), nn.BatchNorm2d(n_channels)
            )
            self.dcs = DCS()
            for m in self.modules():  # the authors' initialisation
                if isinstance(m, nn.Conv2d):
                    n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                    m.weight.data.normal_(0, math.sqrt(2.0 / n))

        def forward(self, x):
            """Any size: padded (edge values) to even sizes, the output cropped back."""
            from .runner import pad_to_multiple

            x, crop = pad_to_multiple(x, 2)
            low = self.first(x)
            high = self.second(F.max_pool2d(low, 2))
            up = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=True)
            out = self.dcs(self.features(self.merge(torch.cat([low, up], dim=1))))
            return out[(slice(None), slice(None), *crop)]

    return DICNet()


def superpixels_of(params):
    from ..superpixels import Superpixels

    return Superpixels(
        str(params["superpixels"]),
        int(params["n_superpixels"]),
        float(params["compactness"]),
        float(params["graph_scale"]),
    )


class Model:
    """DIC on the training input ``x``; see :mod:`.runner` for the interface."""

    def __init__(self, x, params, device, area_factor=1.0):
        import torch

        self.n_channels = int(params["n_channels"])
        self.net = build_net(
            x.shape[1], int(params["width"]), self.n_channels, int(params["n_centres"]),
            int(params["em_steps"]),
        ).to(device)  # fmt: skip
        self.net = self.net.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=float(params["lr"]), momentum=0.9
        )
        self.superpixels = superpixels_of(params)
        # computed once on the training copy, sized as on the full image
        ids, self.n_superpixels = self.superpixels.compute(
            np.moveaxis(x.cpu().numpy(), 1, -1), area_factor
        )
        self.ids = torch.from_numpy(ids).to(device)
        self.halo = 16  # 3x3 layers: 2 + 2 (at half size, counting 4) + 2, and upsampling
        self.tile_values = 8 * int(params["width"]) + 2 * self.n_channels
        self.net.train()

    def step(self, x, iteration, batch):
        import torch.nn.functional as F

        from ..superpixels import superpixel_mode

        self.optimizer.zero_grad(set_to_none=True)
        output = self.net(x)
        labels = output.detach().argmax(dim=1)
        ids = self.ids[batch]
        target = superpixel_mode(labels, ids, self.n_superpixels, self.n_channels)
        loss = F.cross_entropy(output, target)
        loss.backward()
        self.optimizer.step()
        return target, loss

    def label_tile(self, tile):
        return self.net(tile).argmax(dim=1)

    def finish(self, labels, samples):
        from ..superpixels import clean_by_superpixels

        return [
            clean_by_superpixels(lab, s[None], self.superpixels).reshape(lab.shape)
            for lab, s in zip(labels, samples, strict=True)
        ]
