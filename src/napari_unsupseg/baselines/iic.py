"""Invariant Information Clustering (Ji, Henriques & Vedaldi, "Invariant Information
Clustering for Unsupervised Image Classification and Segmentation", ICCV 2019),
trained on the image it segments.

The network is the paper's segmentation network: a VGG-style trunk of 3x3
convolutions, each followed by BatchNorm and ReLU, with ``width`` x (1, 2) channels,
a 2x2 max-pooling, then ``width`` x (4, 4, 8, 8) channels, the last two dilated by 2
(the paper: width 64); and two heads, 1x1 convolution and softmax, upsampled
bilinearly to the input size: the main head with ``n_clusters`` classes, whose argmax
is the label, and an overclustering head with ``overcluster`` times as many.

The loss, per head: a transformed copy g(x) of the image (colour jitter, random
flips) goes through the same network and its predictions are flipped back. P, the
joint distribution of the class of a pixel in x and of a pixel within
``displacement`` pixels of it in g(x), is summed over the image and all displacements
and symmetrised; the loss is minus its mutual information. The heads take turns, one
per iteration (the paper alternates epochs). Adam, as in the paper.
"""

from __future__ import annotations

#: colour jitter of the transformed copy: per-channel gain, contrast and brightness
#: are drawn uniformly within +-JITTER (brightness +-JITTER/2, on the [0, 1] scale)
JITTER = 0.3
#: the copy is a crop shifted by up to this fraction of each side: an absolute
#: position (e.g. the distance to a border) then cannot make a consistent class
SHIFT = 0.125
_EPS = 1e-8


def values_per_pixel(params) -> int:
    """Activations per training pixel, for the memory estimate: the trunk's widths
    (those after the pooling count a quarter), both heads, three saved tensors per
    layer (conv, BatchNorm, ReLU), twice (x and its transformed copy)."""
    width, k = int(params["width"]), int(params["n_clusters"])
    trunk = 3 * width + 24 * width // 4
    return 2 * 3 * (trunk + k * (1 + int(params["overcluster"])))


#: the paper's trunk: (channels in units of ``width``, dilation); "pool" halves the size
TRUNK = ((1, 1), (2, 1), ("pool", 0), (4, 1), (4, 1), (8, 2), (8, 2))


def trunk_layers(n_layers: int):
    """The first ``n_layers`` 3x3 convolutions of :data:`TRUNK` (and the pooling if one
    of them comes after it)."""
    out, convs = [], 0
    for layer in TRUNK:
        if convs == n_layers:
            break
        out.append(layer)
        convs += layer[0] != "pool"
    return out


def build_net(in_channels, width, n_layers, n_clusters, n_over, n_subheads=1):
    from torch import nn

    class IICNet(nn.Module):
        """Trunk and heads; ``forward`` gives the main head's class probabilities."""

        def __init__(self):
            super().__init__()
            layers, channels = [], in_channels
            for out, dilation in trunk_layers(n_layers):
                if out == "pool":
                    layers.append(nn.MaxPool2d(2))
                    continue
                conv = nn.Conv2d(
                    channels,
                    out * width,
                    3,
                    padding=dilation,
                    dilation=dilation,
                    padding_mode="replicate",
                )
                layers += [conv, nn.BatchNorm2d(out * width), nn.ReLU(inplace=True)]
                channels = out * width
            self.trunk = nn.Sequential(*layers)
            # one 1x1 convolution per head gives all its sub-heads at once
            self.heads = nn.ModuleList(
                nn.Conv2d(channels, n_subheads * k, 1) for k in (n_clusters, n_over) if k > 0
            )
            self.n_subheads = n_subheads
            self.multiple = 2 if ("pool", 0) in trunk_layers(n_layers) else 1
            self.best = 0  # the main sub-head with the lowest loss: the one that labels

        def head(self, features, index: int, size):
            """Class probabilities (b, sub-heads, k, *size) of head ``index``."""
            import torch.nn.functional as F

            logits = self.heads[index](features)
            b, _, h, w = logits.shape
            p = logits.reshape(b, self.n_subheads, -1, h, w).softmax(dim=2).reshape(b, -1, h, w)
            if (h, w) != tuple(size):
                p = F.interpolate(p, size=size, mode="bilinear", align_corners=False)
            return p.reshape(b, self.n_subheads, -1, *size)

        def probabilities(self, x, index: int):
            """Head ``index``'s probabilities (b, sub-heads, k, y, x) of any size of
            ``x`` (padded with edge values so that the pooling halves it, then cropped)
            and what :meth:`main_labels` needs to label ``x`` from the same pass."""
            from .runner import pad_to_multiple

            padded, crop = pad_to_multiple(x, self.multiple)
            features = self.trunk(padded)
            p = self.head(features, index, padded.shape[-2:])
            return p[(..., *crop)], (features, padded.shape[-2:], crop)

        def main_labels(self, context):
            """The labelling sub-head's argmax, from a :meth:`probabilities` pass."""
            features, size, crop = context
            return self.head(features, 0, size)[:, self.best].argmax(dim=1)[(..., *crop)]

        def forward(self, x):
            return self.probabilities(x, 0)[0][:, self.best]

    return IICNet()


def transformed(x):
    """g(x): a crop shifted by up to SHIFT of each side, colour-jittered and flipped at
    random per sample (draws from torch's seeded generator on the CPU). Returns (copy,
    flips (b, 2), origin (y, x) of the crop in ``x``)."""
    import torch

    b, c, h, w = x.shape
    my, mx = int(SHIFT * h), int(SHIFT * w)
    origin = [int(v) for v in (torch.rand(2) * torch.tensor([my + 1, mx + 1])).floor()]
    x = x[..., origin[0] : origin[0] + h - my, origin[1] : origin[1] + w - mx]
    draw = (torch.rand(b, c + 2, 1, 1) * 2 - 1).to(x.device)
    gain, contrast = 1 + JITTER * draw[:, :c], 1 + JITTER * draw[:, c : c + 1]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    y = ((x * gain - mean) * contrast + mean + JITTER / 2 * draw[:, c + 1 :]).clamp(0, 1)
    flips = (torch.rand(b, 2) < 0.5).to(x.device)
    return unflip(y, flips), flips, origin


def unflip(z, flips):
    """Apply (or undo: flips are their own inverse) the per-sample flips to ``z``."""
    import torch

    shape = (-1,) + (1,) * (z.dim() - 1)
    z = torch.where(flips[:, 0].reshape(shape), z.flip(-1), z)
    return torch.where(flips[:, 1].reshape(shape), z.flip(-2), z)


def joint_distribution(z1, z2, radius: int, origin=(0, 0)):
    """P (..., k, k): the sum over samples (first axis), pixels u and displacements t
    (|t_y|, |t_x| <= radius) of z1[u] z2[u - origin + t]^T (z2: the copy cropped at
    ``origin``), normalised and symmetrised, as in the authors' code. Axes between the
    first and the classes (sub-heads) are kept.

    The sum over t is linear, so z2 is first summed over each pixel's window (a box
    filter with zeros outside): one product instead of one per displacement."""
    import torch
    import torch.nn.functional as F

    (h1, w1), (h2, w2), r = z1.shape[-2:], z2.shape[-2:], int(radius)
    flat = z2.reshape(z2.shape[0], -1, h2, w2)
    side = 2 * r + 1
    boxed = F.avg_pool2d(F.pad(flat, (2 * r,) * 4), side, stride=1) * side**2
    boxed = boxed.reshape(*z2.shape[:-2], h2 + 2 * r, w2 + 2 * r)  # at j + r: window of j
    oy, ox = origin
    y0, y1 = max(0, oy - r), min(h1, oy + h2 + r)
    x0, x1 = max(0, ox - r), min(w1, ox + w2 + r)
    a = z1[..., y0:y1, x0:x1]
    b = boxed[..., y0 + r - oy : y1 + r - oy, x0 + r - ox : x1 + r - ox]
    joint = torch.einsum("b...ihw,b...jhw->...ij", a, b)
    joint = joint / joint.sum(dim=(-2, -1), keepdim=True).clamp_min(_EPS)
    return (joint + joint.transpose(-2, -1)) / 2


def mutual_information(joint, entropy_weight: float = 1.0):
    """I(P) = sum_ij P_ij (log P_ij - w log P_i - w log P_j) over the last two axes,
    with w = 1 the mutual information; w > 1 (the ``lamb`` of the authors' code) weighs
    the marginals' entropy more, which keeps every class in use on a single image."""
    rows, columns = joint.sum(dim=-1, keepdim=True), joint.sum(dim=-2, keepdim=True)
    marginals = rows.clamp_min(_EPS).log() + columns.clamp_min(_EPS).log()
    return (joint * (joint.clamp_min(_EPS).log() - entropy_weight * marginals)).sum(dim=(-2, -1))


class Model:
    """IIC on the training input ``x``; see :mod:`.runner` for the interface."""

    def __init__(self, x, params, device, area_factor=1.0):
        import torch

        k = int(params["n_clusters"])
        self.n_heads = 2 if int(params["overcluster"]) > 1 else 1
        over = k * int(params["overcluster"]) if self.n_heads == 2 else 0
        width = int(params["width"])
        n_layers = int(params["n_layers"])
        self.net = build_net(x.shape[1], width, n_layers, k, over, int(params["n_subheads"])).to(
            device
        )
        self.net = self.net.to(memory_format=torch.channels_last)
        self.radius = int(params["displacement"])
        self.entropy_weight = float(params["entropy_weight"])
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(params["lr"]))
        layers = trunk_layers(n_layers)
        # context: one pixel per 3x3 layer x its dilation, twice after the pooling
        scale = [2 if ("pool", 0) in layers[:i] else 1 for i in range(len(layers))]
        self.halo = 2 + sum(f * d for f, (_, d) in zip(scale, layers, strict=True))
        self.tile_values = 16 * width
        self.net.train()

    def step(self, x, iteration, batch):
        import torch

        head = 0 if self.n_heads == 1 or iteration % 2 == 1 else 1
        copy, flips, origin = transformed(x)
        self.optimizer.zero_grad(set_to_none=True)
        z1, context = self.net.probabilities(x, head)
        z2 = unflip(self.net.probabilities(copy, head)[0], flips)
        joint = joint_distribution(z1, z2, self.radius, origin)
        losses = -mutual_information(joint, self.entropy_weight)
        losses.sum().backward()
        self.optimizer.step()
        if head == 0:
            self.net.best = int(losses.argmin())
            labels = z1[:, self.net.best].detach().argmax(dim=1)
        else:
            with torch.no_grad():
                labels = self.net.main_labels(context)
        return labels, losses[self.net.best].detach()

    def label_tile(self, tile):
        return self.net(tile).argmax(dim=1)

    def finish(self, labels, samples):
        return labels
