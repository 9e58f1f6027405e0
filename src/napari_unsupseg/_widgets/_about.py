"""One line per method on what it is good for, in the dock; the papers in its tooltip.

A biologist choosing a method wants to know when to use it, not its loss function;
the citation stays one hover away. The citation is the registry's (each method's
``paper``); only the titles it leaves out are added here. Qt-free.
"""

from __future__ import annotations

GOOD_FOR = {
    "cnn": "The first thing to try, on photographs and microscopy alike: learns from "
    "this image alone; the progress bar tells how far it is.",
    "kmeans": "Fast: a few well-separated intensities or colours (stained nuclei on a "
    "dark background). Set the number of classes.",
    "gmm": "Like k-means, for classes of different spread (a dim cytoplasm beside "
    "bright nuclei). Set the number of classes.",
    "felzenszwalb": "Fast regions that follow edges, in photographs; no training.",
    "gmm+kmeans": "More robust classes than k-means alone when the intensities overlap.",
    "cnn-superpixel": "The original self-training CNN: regions that follow superpixel "
    "edges; slower.",
    "cnn-continuity": "Self-training CNN that keeps regions smooth; takes scribbles to "
    "steer it. Stops at a label count.",
    "cnn-fsf": "Like cnn-continuity, weighting colour over smoothness each step; fewer, "
    "larger regions. Stops at a label count.",
    "cnn-scf": "Like cnn-continuity, weighting smoothness over colour each step. Stops "
    "at a label count.",
    "cnn+kmeans": "A set number of classes from the CNN's learnt features: when you know "
    "how many kinds of structure there are.",
    "iic": "For comparing with the published deep clustering methods; slower than cnn "
    "and usually coarser.",
    "wnet": "For comparing with the published methods: regions from an autoencoder's "
    "classes; the slowest here.",
    "dic": "For comparing with the published methods: classes refined by superpixels; "
    "close to cnn on photographs.",
}

_KIM_2020 = "Unsupervised Learning of Image Segmentation Based on Differentiable Feature Clustering"
_GUERMAZI = "A Dynamically Weighted Loss Function for Unsupervised Image Segmentation"
#: titles of the papers a method's citation (its registry ``paper``) names without them
TITLES = {
    "cnn": (_KIM_2020, _GUERMAZI),
    "felzenszwalb": ("Efficient Graph-Based Image Segmentation",),
    "cnn-superpixel": ("Unsupervised Image Segmentation by Backpropagation",),
    "cnn-continuity": (_KIM_2020,),
}


def good_for(name: str, description: str) -> str:
    return GOOD_FOR.get(name, description)


def tooltip(name: str, description: str, paper: str = "") -> str:
    """The method's description and its source: the registry's citation (``paper``),
    with the titles it leaves out."""
    titles = "; ".join(f"'{title}'" for title in TITLES.get(name, ()))
    cited = f"{paper}: {titles}" if paper and titles else paper
    return description + (f"\nSource: {cited}." if cited else "")
