"""Running out of memory during a run, turned into an :class:`InsufficientMemoryError`
that says what to change, with the memory the failed run held released."""

from __future__ import annotations

from ._memory import InsufficientMemoryError

MEMORY_ADVICE = {
    "classical": "crop the image, segment a sub-volume or fewer channels, or lower max_samples.",
    "torch": "use device='cpu' (more memory than most GPUs) or 'cuda', fewer n_channels, a "
    "smaller train_size, or crop the image / segment fewer planes.",
}
GPU_ADVICE = (
    "Try device='cpu' (the computer's main memory is usually larger), or make the job "
    "smaller: fewer n_channels, a smaller train_size, a cropped image or fewer planes."
)


def is_out_of_memory(error: BaseException) -> bool:
    """torch's OutOfMemoryError, or an older/other backend's 'out of memory' RuntimeError."""
    text = str(error).lower()
    return (
        type(error).__name__ == "OutOfMemoryError"
        or "out of memory" in text
        or "not_enough_memory" in text
        or "can't allocate memory" in text
    )


def _drop_frames(error: BaseException) -> None:
    """Free what the failed run's frames hold (tensors, activations): the traceback
    keeps every local of the engine alive for as long as the error object lives."""
    import traceback

    traceback.clear_frames(error.__traceback__)
    error.__traceback__ = None


def _release_gpu_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_guarded(call, method: str, device, uses_torch: bool):
    """``call()``, with running out of memory (RAM or GPU) turned into an
    :class:`InsufficientMemoryError` that says what to change, and the memory the
    failed run held released."""
    try:
        return call()
    except InsufficientMemoryError:
        raise  # already says what would fit
    except MemoryError as error:
        _drop_frames(error)
        raise InsufficientMemoryError(
            f"{method!r} ran out of memory: {error or 'no memory left'}. "
            f"{MEMORY_ADVICE['torch' if uses_torch else 'classical']}"
        ) from error
    except RuntimeError as error:
        if not is_out_of_memory(error):
            raise
        text = str(error).lower()
        on_gpu = any(word in text for word in ("cuda", "gpu", "mps", "cudnn"))
        on_cpu = "cpuallocator" in text or "can't allocate memory" in text
        on_cpu = on_cpu or (device == "cpu" and not on_gpu)
        _drop_frames(error)
        _release_gpu_memory()
        if on_cpu:
            raise InsufficientMemoryError(
                f"{method!r} ran out of memory (the computer's main memory is full). "
                f"{MEMORY_ADVICE['torch']}"
            ) from error
        raise InsufficientMemoryError(
            f"{method!r} ran out of GPU memory (device {device!r}): the image is too big for "
            f"the GPU with these settings. {GPU_ADVICE}"
        ) from error
