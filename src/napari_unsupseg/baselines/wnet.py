"""W-Net (Xia & Kulis, "W-Net: A Deep Model for Fully Unsupervised Image
Segmentation", 2017), trained on the image it segments.

Two U-Nets make an autoencoder: the encoder U_enc maps the image to ``n_classes``
soft class maps (softmax), the decoder U_dec maps those back to the image. Each U-Net
has ``depth`` 2x2 max-poolings down and as many 2x2 transposed convolutions up, with
skip connections; every module is two 3x3 convolutions, each followed by ReLU and
BatchNorm, with ``width`` x 2^level channels; all modules but the first and the last
of each U-Net use depthwise separable convolutions (the paper: width 64, depth 4,
18 modules in all).

Training alternates, as in the paper's Algorithm 1: one step of the encoder on the
soft normalised cut of its class maps, then one step of both U-Nets on the
reconstruction error (mean squared). The soft normalised cut (Shi & Malik's cut,
made differentiable by using class probabilities):
K - sum_k [sum_u p_k(u) sum_v w(u, v) p_k(v)] / [sum_u p_k(u) sum_v w(u, v)], with
w(u, v) = exp(-|F(u) - F(v)|^2 / sigma_I^2) exp(-|X(u) - X(v)|^2 / sigma_X^2) for
pixels less than ``radius`` apart (F: the image on a 0..255 scale; the paper: radius
5, sigma_I 10, sigma_X 4). Post-processing (:mod:`.wnet_post`): a CRF, then
hierarchical merging of the regions.
"""

from __future__ import annotations


def values_per_pixel(params) -> int:
    """Activations per training pixel, for the memory estimate: about four maps per
    3x3 layer of both U-Nets (levels below count a quarter each), the encoder run
    twice, plus the normalised cut's products for every neighbour offset."""
    width, depth, k = int(params["width"]), int(params["depth"]), int(params["n_classes"])
    per_level = sum(width * 2**level / 4**level for level in range(depth + 1))
    offsets = (2 * int(params["radius"]) + 1) ** 2
    return int(3 * 2 * 4 * 2 * per_level + 3 * offsets * k)


def _block(torch_nn, in_channels: int, out_channels: int, separable: bool):
    nn = torch_nn
    layers = []
    for c_in in (in_channels, out_channels):
        if separable:
            layers += [
                nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in),
                nn.Conv2d(c_in, out_channels, 1),
            ]
        else:
            layers.append(nn.Conv2d(c_in, out_channels, 3, padding=1))
        layers += [nn.ReLU(inplace=True), nn.BatchNorm2d(out_channels)]
    return nn.Sequential(*layers)


def build_unet(in_channels: int, out_channels: int, width: int, depth: int):
    """A U-Net of the paper's modules; ``forward`` returns ``out_channels`` maps."""
    import torch
    from torch import nn

    channels = [width * 2**level for level in range(depth + 1)]

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList(
                _block(nn, channels[i - 1] if i else in_channels, channels[i], separable=i > 0)
                for i in range(depth + 1)
            )
            self.up = nn.ModuleList(
                nn.ConvTranspose2d(channels[i], channels[i - 1], 2, stride=2)
                for i in range(depth, 0, -1)
            )
            self.merge = nn.ModuleList(
                _block(nn, 2 * channels[i - 1], channels[i - 1], separable=i > 1)
                for i in range(depth, 0, -1)
            )
            self.out = nn.Conv2d(channels[0], out_channels, 1)

        def forward(self, x):
            """Any size: padded (edge values) so that every pooling halves it, the
            output cropped back."""
            from .runner import pad_to_multiple

            x, crop = pad_to_multiple(x, 2**depth)
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
                x = merge(torch.cat([skip, up(x)], dim=1))
            return self.out(x)[(slice(None), slice(None), *crop)]

    return UNet()


def neighbour_offsets(radius: int) -> list[tuple[int, int]]:
    """(dy, dx) with dy^2 + dx^2 < radius^2: the pixels the normalised cut links."""
    r = int(radius)
    return [
        (dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx < r * r
    ]


def _pairs(t, dy: int, dx: int):
    """(t at u, t at u + (dy, dx)) over the u where both exist (last two axes)."""
    h, w = t.shape[-2:]
    a = t[..., max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    b = t[..., max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)]
    return a, b


def ncut_weights(x, radius: int, sigma_i: float, sigma_x: float) -> dict:
    """w(u, u + offset) for every linked offset, over the pixels u where both exist: a
    map (b, 1, y', x') per offset, for the image ``x`` (b, c, y, x, values in [0, 1])."""
    import torch

    weights = {}
    scale = (255.0 / sigma_i) ** 2
    with torch.no_grad():
        for dy, dx in neighbour_offsets(radius):
            if abs(dy) >= x.shape[-2] or abs(dx) >= x.shape[-1]:
                continue
            xa, xb = _pairs(x, dy, dx)
            colour = scale * ((xa - xb) ** 2).sum(dim=1, keepdim=True)
            weights[dy, dx] = torch.exp(-colour - (dy * dy + dx * dx) / sigma_x**2)
    return weights


def soft_ncut(p, weights: dict):
    """The soft normalised cut of class probabilities ``p`` (b, k, y, x) with the
    links ``weights`` of :func:`ncut_weights`, averaged over the batch."""
    assoc_within = p.new_zeros(p.shape[:2])
    assoc_all = p.new_zeros(p.shape[:2])
    for (dy, dx), weight in weights.items():
        pa, pb = _pairs(p, dy, dx)
        weighted = pa * weight
        assoc_within = assoc_within + (weighted * pb).sum(dim=(2, 3))
        assoc_all = assoc_all + weighted.sum(dim=(2, 3))
    cut = p.shape[1] - (assoc_within / assoc_all.clamp_min(1e-8)).sum(dim=1)
    return cut.mean()


class Model:
    """W-Net on the training input ``x``; see :mod:`.runner` for the interface."""

    def __init__(self, x, params, device, area_factor=1.0):
        import torch

        from . import wnet_post

        k, width, depth = int(params["n_classes"]), int(params["width"]), int(params["depth"])
        fmt = torch.channels_last
        self.encoder = build_unet(x.shape[1], k, width, depth).to(device).to(memory_format=fmt)
        self.decoder = build_unet(k, x.shape[1], width, depth).to(device).to(memory_format=fmt)
        self.net = self.encoder
        lr = float(params["lr"])
        self.encoder_optimizer = torch.optim.Adam(self.encoder.parameters(), lr=lr)
        everything = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.autoencoder_optimizer = torch.optim.Adam(everything, lr=lr)
        self.cut = (int(params["radius"]), float(params["sigma_i"]), float(params["sigma_x"]))
        # the links depend on the image only: made once unless the input is a long list
        self.weights = ncut_weights(x, *self.cut) if x.shape[0] <= 8 else None
        self.n_samples = x.shape[0]
        self.post = wnet_post.PostProcessing.from_params(params)
        self.halo = 4 * 2**depth + self.post.halo
        self.tile_values = 8 * width
        self.encoder.train()
        self.decoder.train()

    def step(self, x, iteration, batch):
        import torch.nn.functional as F

        self.encoder_optimizer.zero_grad(set_to_none=True)
        p = self.encoder(x).softmax(dim=1)
        if self.weights is None:
            weights = ncut_weights(x, *self.cut)
        elif batch.numel() == self.n_samples:
            weights = self.weights
        else:
            weights = {k: w[batch] for k, w in self.weights.items()}
        cut = soft_ncut(p, weights)
        cut.backward()
        self.encoder_optimizer.step()

        self.autoencoder_optimizer.zero_grad(set_to_none=True)
        reconstruction = self.decoder(self.encoder(x).softmax(dim=1))
        error = F.mse_loss(reconstruction, x)
        error.backward()
        self.autoencoder_optimizer.step()
        return p.detach().argmax(dim=1), cut.detach() + error.detach()

    def label_tile(self, tile):
        return self.post.smooth(self.encoder(tile).softmax(dim=1), tile).argmax(dim=1)

    def finish(self, labels, samples):
        if len(samples) != 1:  # ids must name the same classes in every image
            return labels
        return [self.post.merge(labels[0], samples[0])]
