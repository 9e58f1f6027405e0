"""Losses of the self-training CNN: feature similarity, scribbles, spatial continuity,
and the dynamic continuity weights of seed 003."""

from __future__ import annotations

IGNORE = -100  # torch's default ignore_index: pixels left out of a cross-entropy

WEIGHTINGS = ("none", "fixed", "fsf", "scf")


def continuity_loss(response):
    """Kim et al.'s spatial continuity: for each spatial axis, the mean absolute
    difference between neighbours of the full C-channel response (before softmax),
    each axis averaged over its own elements, summed over the axes.

    ``response`` is (batch, channels, *spatial); axes of length 1 add nothing. The
    gradient is written by hand (:class:`_Continuity`): autograd's version of this
    one line makes about eight full-size temporaries and costs a third of an iteration.
    """
    return _continuity_function().apply(response)


_CONTINUITY = None


def _continuity_function():
    """The autograd Function, built on first use so that torch loads lazily."""
    global _CONTINUITY
    if _CONTINUITY is None:
        import torch

        class _Continuity(torch.autograd.Function):
            """Forward: per axis one difference buffer, its L1 norm, then the buffer
            becomes the sign in place and is kept. Backward: d|a - b|/da = sign, so
            the gradient is +sign/n at the upper neighbour and -sign/n at the lower,
            accumulated in place into one zero tensor. The work is done on the
            channel-last view, which is contiguous for the engine's layout."""

            @staticmethod
            def forward(ctx, response):
                last = response.movedim(1, -1)
                accumulate = torch.promote_types(response.dtype, torch.float32)
                total = response.new_zeros((), dtype=accumulate)
                dims, signs = [], []
                for dim in range(1, last.dim() - 1):
                    n = last.shape[dim]
                    if n < 2:
                        continue
                    diff = last.narrow(dim, 1, n - 1) - last.narrow(dim, 0, n - 1)
                    norm = torch.linalg.vector_norm(diff, 1, dtype=accumulate)
                    total = total + norm / diff.numel()
                    dims.append(dim)
                    signs.append(diff.sign_())
                ctx.dims = dims
                ctx.shape = last.shape
                ctx.save_for_backward(*signs)
                return total.to(response.dtype)

            @staticmethod
            def backward(ctx, grad_output):
                signs = ctx.saved_tensors
                grad = None
                for dim, sign in zip(ctx.dims, signs, strict=True):
                    if grad is None:
                        grad = sign.new_zeros(ctx.shape)
                    n = ctx.shape[dim]
                    step = sign * (grad_output / sign.numel())
                    grad.narrow(dim, 1, n - 1).add_(step)
                    grad.narrow(dim, 0, n - 1).sub_(step)
                return None if grad is None else grad.movedim(-1, 1)

        _CONTINUITY = _Continuity
    return _CONTINUITY


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
