"""W-Net's post-processing (Xia & Kulis 2017): a CRF smooths the encoder's class
maps, then regions are merged hierarchically along their weakest boundaries.

The paper uses Krähenbühl & Koltun's fully connected CRF and the hierarchical
merging (oriented watershed, ultrametric contour map) of Arbeláez et al. 2011. Here:

- the CRF is a mean-field CRF with Potts compatibility, a bilateral (colour and
  position) and a spatial Gaussian kernel, each normalised to a weighted mean, over a
  window of ``CRF_RADIUS`` pixels instead of the whole image (the fully connected
  version needs a permutohedral lattice, which neither torch nor the plugin's other
  dependencies provide); kernel widths and weights are the common defaults of the
  fully connected CRF's reference implementation;
- the merging starts from the connected regions of the CRF's labels and repeatedly
  joins the two touching regions whose shared boundary is weakest (mean Sobel
  gradient of the image along it; colour images in CIELAB), until the weakest is
  above ``merge_threshold``: the greedy merging that builds an ultrametric contour
  map, stopped at one level, on image gradients rather than on a trained contour
  detector (gPb, which needs its own training and code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: window of the local CRF, and its kernels: spatial (sigma in pixels, weight) and
#: bilateral (sigma in pixels, sigma of colour on a 0..255 scale, weight)
CRF_RADIUS = 3
SPATIAL = (3.0, 3.0)
BILATERAL = (80.0, 13.0, 10.0)


@dataclass(frozen=True)
class PostProcessing:
    crf_iter: int
    merge_threshold: float

    @classmethod
    def from_params(cls, params):
        return cls(int(params["crf_iter"]), float(params["merge_threshold"]))

    @property
    def halo(self) -> int:
        """Pixels of context the CRF's messages travel in ``crf_iter`` iterations."""
        return self.crf_iter * CRF_RADIUS

    def smooth(self, p, image):
        """Mean-field iterations on class probabilities ``p`` (1, k, y, x) over
        ``image`` (1, c, y, x); returns the smoothed probabilities."""
        if self.crf_iter <= 0:
            return p
        return mean_field(p, image, self.crf_iter)

    def merge(self, labels: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """Region ids after hierarchical merging of ``labels`` (2D) over ``sample``
        (y, x, channels); the labels unchanged when ``merge_threshold`` is 0."""
        if self.merge_threshold <= 0:
            return labels
        return merge_regions(labels, sample, self.merge_threshold)


def _kernels(image, radius: int):
    """Per offset (dy, dx) in the window: the spatial and bilateral kernel weights of
    (u, u + offset) for every pixel u (zero where u + offset is outside)."""
    import torch
    import torch.nn.functional as F

    h, w = image.shape[-2:]
    valid = F.pad(torch.ones_like(image[:, :1]), (radius,) * 4)
    padded = F.pad(image, (radius,) * 4, mode="replicate")
    (s_xy, s_w), (b_xy, b_rgb, b_w) = SPATIAL, BILATERAL
    spatial, bilateral = [], []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            window = (..., slice(radius + dy, radius + dy + h), slice(radius + dx, radius + dx + w))
            inside = valid[window]
            distance = dy * dy + dx * dx
            colour = ((padded[window] - image) ** 2).sum(dim=1, keepdim=True) * 255.0**2
            spatial.append(inside * np.exp(-distance / (2 * s_xy**2)))
            bilateral.append(
                inside * torch.exp(-distance / (2 * b_xy**2) - colour / (2 * b_rgb**2))
            )
    spatial, bilateral = torch.cat(spatial, dim=1), torch.cat(bilateral, dim=1)
    spatial = s_w * spatial / spatial.sum(dim=1, keepdim=True).clamp_min(1e-8)
    bilateral = b_w * bilateral / bilateral.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return spatial + bilateral  # (1, offsets, y, x)


def mean_field(p, image, iterations: int, radius: int = CRF_RADIUS):
    """Potts mean-field: q = softmax(log p + sum_v k(u, v) q(v)) ``iterations`` times,
    with k the normalised spatial and bilateral kernels of :func:`_kernels`."""
    import torch
    import torch.nn.functional as F

    h, w = p.shape[-2:]
    kernel = _kernels(image, radius)
    unary = p.clamp_min(1e-8).log()
    q = p
    for _ in range(iterations):
        padded = F.pad(q, (radius,) * 4)
        message = torch.zeros_like(q)
        index = 0
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dy == 0 and dx == 0:
                    continue
                shifted = padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
                message += kernel[:, index : index + 1] * shifted
                index += 1
        q = (unary + message).softmax(dim=1)
    return q


def boundary_strength(sample: np.ndarray) -> np.ndarray:
    """Mean Sobel gradient magnitude over channels (CIELAB for three, L scaled to
    0..1 like the others), the edge map the merging follows."""
    from skimage.filters import sobel

    image = sample.astype(np.float64)
    if image.shape[-1] == 3:
        from skimage.color import rgb2lab

        image = rgb2lab(np.clip(image, 0.0, 1.0)) / 100.0
    return np.mean([sobel(image[..., c]) for c in range(image.shape[-1])], axis=0)


def merge_regions(labels: np.ndarray, sample: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy hierarchical merging (see the module's docstring); ``threshold`` is in
    percent of the channels' range per pixel of boundary."""
    from skimage import graph
    from skimage.measure import label as connected

    regions = connected(labels, background=-1, connectivity=1)
    edges = 100.0 * boundary_strength(sample)
    rag = graph.rag_boundary(regions, edges)
    return graph.merge_hierarchical(
        regions,
        rag,
        thresh=threshold,
        rag_copy=False,
        in_place_merge=True,
        merge_func=_merge_nothing,
        weight_func=_mean_boundary,
    )


def _mean_boundary(rag, src, dst, n):
    """The boundary of the merged region with ``n``: the length-weighted mean."""
    empty = {"weight": 0.0, "count": 0}
    a, b = rag[src].get(n, empty), rag[dst].get(n, empty)
    count = a["count"] + b["count"]
    return {"count": count, "weight": (a["count"] * a["weight"] + b["count"] * b["weight"]) / count}


def _merge_nothing(rag, src, dst):
    """Nothing to carry over besides the boundaries (handled by ``_mean_boundary``)."""
