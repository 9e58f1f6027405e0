"""Losses of the self-training CNN: feature similarity, scribbles, spatial continuity,
and the dynamic continuity weights of seed 003."""

from __future__ import annotations

IGNORE = -100  # torch's default ignore_index: pixels left out of a cross-entropy

WEIGHTINGS = ("none", "fixed", "fsf", "scf")


def continuity_loss(response):
    """Kim et al.'s spatial continuity: for each spatial axis, the mean absolute
    difference between neighbours of the full C-channel response (before softmax),
    each axis averaged over its own elements, summed over the axes.

    ``response`` is (batch, channels, *spatial); axes of length 1 add nothing.
    """
    total = response.new_zeros(())
    for dim in range(2, response.dim()):
        n = response.shape[dim]
        if n > 1:
            total = (
                total
                + (response.narrow(dim, 1, n - 1) - response.narrow(dim, 0, n - 1)).abs().mean()
            )
    return total


def label_loss(response, target, scribbles=None, similarity_weight=1.0, scribble_weight=0.5):
    """Cross-entropy against the pseudo-labels ``target`` and, where the user drew,
    against the scribbles.

    ``scribbles`` holds a channel index on scribbled pixels and :data:`IGNORE`
    elsewhere. As in Kim et al., the similarity term then covers only unscribbled
    pixels; each term is a mean over its own pixels.
    """
    import torch.nn.functional as F

    if scribbles is None:
        return similarity_weight * F.cross_entropy(response, target)
    log_p = F.log_softmax(response, dim=1)
    drawn = scribbles != IGNORE
    loss = scribble_weight * F.nll_loss(log_p, scribbles, ignore_index=IGNORE)
    free = target.masked_fill(drawn, IGNORE)
    if not bool(drawn.all()):
        loss = loss + similarity_weight * F.nll_loss(log_p, free, ignore_index=IGNORE)
    return loss


def continuity_weight(weighting: str, n_labels, fixed: float = 1.0, p: float = 1.0):
    """The weight of the continuity term this iteration.

    ``fixed``: Kim et al.'s constant; ``fsf`` (feature similarity focus): q'/p;
    ``scf`` (spatial continuity focus): p/q' (seed 003), with q' the current number
    of labels (a tensor, so no host round trip is needed); ``none``: 0.
    """
    if weighting == "fixed":
        return fixed
    if weighting == "fsf":
        return n_labels / p
    if weighting == "scf":
        return p / n_labels
    if weighting == "none":
        return 0.0
    raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
