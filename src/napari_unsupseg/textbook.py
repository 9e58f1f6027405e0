"""Two textbook object pipelines, the baselines the objects output is measured against.

Neither is a segmenter of the plugin: ``unsupseg bench`` runs them beside the methods
(``--methods gaussian-otsu voronoi-otsu``) so that every instance table says how far
the plugin is above what two lines of scikit-image give.

- **Gaussian + Otsu**: smooth (sigma 2 pixels), threshold at Otsu's level, connected
  components.
- **Voronoi-Otsu labelling** (Haase's nsbatwm, after CLIJ): smooth by ``outline_sigma``
  for the foreground (Otsu), by ``spot_sigma`` for the seeds (local maxima inside the
  foreground), then a seeded watershed restricted to the foreground; both sigmas fixed,
  which is its weak point when object sizes vary from image to image.
"""

from __future__ import annotations

import numpy as np

from ._preprocess import prepare_image
from .objects import intensity_of

BASELINES = ("gaussian-otsu", "voronoi-otsu")


def _intensity(image, channel_axis=None) -> np.ndarray:
    # linear scaling: thresholds and maxima as on the raw data
    prepared = prepare_image(image, channel_axis=channel_axis, normalize="minmax")
    return intensity_of(prepared.features).reshape(prepared.spatial_shape)


def gaussian_otsu(image, *, sigma: float = 2.0, channel_axis=None) -> np.ndarray:
    """Gaussian smoothing, Otsu threshold, connected components (0 = background)."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    smooth = ndi.gaussian_filter(_intensity(image, channel_axis), sigma)
    return label(smooth > threshold_otsu(smooth)).astype(np.int32)


def voronoi_otsu(
    image, *, spot_sigma: float = 3.0, outline_sigma: float = 1.0, channel_axis=None
) -> np.ndarray:
    """Voronoi-Otsu labelling with fixed sigmas (0 = background)."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.measure import label
    from skimage.segmentation import watershed

    intensity = _intensity(image, channel_axis)
    outline = ndi.gaussian_filter(intensity, outline_sigma)
    foreground = outline > threshold_otsu(outline)
    spots = ndi.gaussian_filter(intensity, spot_sigma)
    peaks = peak_local_max(spots, labels=label(foreground), min_distance=1, exclude_border=False)
    markers = np.zeros(intensity.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-outline, markers, mask=foreground).astype(np.int32)


def run_baseline(name: str, image) -> np.ndarray:
    """The baseline ``name`` (one of :data:`BASELINES`) with its default settings."""
    if name == "gaussian-otsu":
        return gaussian_otsu(image)
    if name == "voronoi-otsu":
        return voronoi_otsu(image)
    raise ValueError(f"unknown baseline {name!r}; baselines: {', '.join(BASELINES)}")
