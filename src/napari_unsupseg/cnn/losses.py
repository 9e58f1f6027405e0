"""Losses of the self-training CNN: feature similarity, scribbles, spatial continuity,
and the dynamic continuity weights of Guermazi, Ksantini & Khan
("A Dynamically Weighted Loss Function for Unsupervised Image Segmentation")."""

from __future__ import annotations

IGNORE = -100  # torch's default ignore_index: pixels left out of a cross-entropy

WEIGHTINGS = ("none", "fixed", "fsf", "scf")


def self_training_loss(
    response,
    target,
    scribbles=None,
    similarity_weight: float = 1.0,
    scribble_weight: float = 0.5,
    continuity_weight=0.0,
):
    """One iteration's whole loss, as the papers define it, with one gradient buffer.

    Cross-entropy against the pseudo-labels ``target`` (batch, *spatial); where the
    user drew, against the ``scribbles`` instead (a channel index on scribbled pixels,
    :data:`IGNORE` elsewhere). As in Kim et al., each of the two terms is a mean over
    its own pixels, scaled by its weight. Plus ``continuity_weight`` (a number or a
    0-d tensor) times Kim et al.'s spatial continuity: for each spatial axis, the mean
    absolute difference between neighbours of the full C-channel response (before
    softmax), each axis averaged over its own elements, summed over the axes (axes of
    length 1 add nothing).

    Written as one autograd function because on a CPU these passes over the
    (pixels x channels) response cost as much as the convolutions' arithmetic:
    autograd's version copies the response, fills and adds three full-size gradients
    (its continuity term alone made about eight full-size temporaries); this one makes
    the gradient from the saved log-softmax in one buffer.
    """
    import torch

    target = target.reshape(-1)
    dtype = torch.promote_types(response.dtype, torch.float32)
    if scribbles is None:
        weights = torch.full(target.shape, similarity_weight / max(target.numel(), 1),
                             dtype=dtype, device=target.device)  # fmt: skip
    else:
        scribbles = scribbles.reshape(-1)
        drawn = scribbles != IGNORE
        n_drawn = drawn.sum()
        n_free = drawn.numel() - n_drawn
        weights = torch.where(
            drawn,
            scribble_weight / n_drawn.clamp_min(1).to(dtype),
            similarity_weight / n_free.clamp_min(1).to(dtype),
        )
        target = torch.where(drawn, scribbles, target)
    return _loss_function().apply(response, target, weights, continuity_weight)


def _channel_last(response):
    """(batch, *spatial, channels) view and its (pixels, channels) form: a view for the
    engine's channels-last layout, a copy otherwise."""
    last = response.movedim(1, -1)
    return last, last.reshape(-1, last.shape[-1])


def _continuity_forward(last):
    """The continuity loss of the channel-last view ``last``, and what its gradient
    needs: per axis one difference buffer, turned into its sign in place."""
    import torch

    accumulate = torch.promote_types(last.dtype, torch.float32)
    total = last.new_zeros((), dtype=accumulate)
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
    return total, dims, signs


def _add_continuity_gradient(grad_last, dims, signs, scale) -> None:
    """d|a - b|/da = sign: add +sign x scale/n at each upper neighbour and -sign x
    scale/n at each lower one, in place (``scale``: a 0-d tensor)."""
    for dim, sign in zip(dims, signs, strict=True):
        n = grad_last.shape[dim]
        step = scale / sign.numel()
        grad_last.narrow(dim, 1, n - 1).addcmul_(sign, step)
        grad_last.narrow(dim, 0, n - 1).addcmul_(sign, -step)


def _is_tensor(value) -> bool:
    return hasattr(value, "dim")


_FUNCTION = None


def _loss_function():
    """The autograd Function of :func:`self_training_loss`, built on first use so that
    torch loads lazily."""
    global _FUNCTION
    if _FUNCTION is None:
        import torch
        from torch.autograd.function import once_differentiable

        class _SelfTrainingLoss(torch.autograd.Function):
            """Forward: log-softmax of the (pixels, channels) view, the weighted
            picked entries, the continuity term. Backward: exp() of the saved
            log-softmax is the softmax; times each pixel's weight, minus the
            weight at the target channel, is the cross-entropy's gradient; the
            continuity signs are added into the same buffer."""

            @staticmethod
            def forward(ctx, response, target, weights, continuity_weight):
                last, flat = _channel_last(response)
                dtype = torch.promote_types(flat.dtype, torch.float32)
                log_p = torch.log_softmax(flat, dim=1, dtype=dtype)
                picked = log_p.gather(1, target[:, None])[:, 0]
                total = -(weights * picked).sum()
                dims, signs = [], []
                if _is_tensor(continuity_weight) or continuity_weight != 0:
                    continuity, dims, signs = _continuity_forward(last)
                    total = total + continuity_weight * continuity
                ctx.dims, ctx.shape, ctx.dtype = dims, last.shape, response.dtype
                ctx.continuity_weight = continuity_weight
                ctx.save_for_backward(log_p, target, weights, *signs)
                return total.to(response.dtype)

            @staticmethod
            @once_differentiable
            def backward(ctx, grad_output):
                log_p, target, weights, *signs = ctx.saved_tensors
                scaled = weights * grad_output
                grad = log_p.exp().mul_(scaled[:, None])  # not exp_: backward may run twice
                grad.scatter_add_(1, target[:, None], -scaled[:, None])
                grad_last = grad.view(ctx.shape)
                if signs:
                    scale = grad_output * ctx.continuity_weight
                    _add_continuity_gradient(grad_last, ctx.dims, signs, scale)
                return grad_last.movedim(-1, 1).to(ctx.dtype), None, None, None

        _FUNCTION = _SelfTrainingLoss
    return _FUNCTION


def continuity_weight(weighting: str, n_labels, fixed: float = 1.0, p: float = 1.0):
    """The weight of the continuity term this iteration.

    ``fixed``: Kim et al.'s constant; ``fsf`` (feature similarity focus): q'/p;
    ``scf`` (spatial continuity focus): p/q' (Guermazi, Ksantini & Khan), with q' the current number
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
