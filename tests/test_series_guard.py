"""segment_series opens as segment() does: the same checks, the memory check before
the run and the out-of-memory translation during it (it once skipped both)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_unsupseg import InsufficientMemoryError, segment, segment_series

IMAGES = [np.random.default_rng(i).random((16, 16, 3)).astype(np.float32) for i in range(2)]


def test_a_series_that_cannot_fit_is_refused_before_it_runs(swap_spec):
    ran = []

    def series(*args, **kwargs):
        ran.append(True)
        return [np.zeros(f.shape[:-1], np.int32) for f in args[0]]

    swap_spec("cnn", series=series, estimate=lambda *args: 1 << 60)
    with pytest.raises(InsufficientMemoryError, match="'cnn' on an image of"):
        segment_series(IMAGES, "cnn", device="cpu")
    assert ran == []


def test_running_out_of_memory_during_a_series_says_what_to_change(swap_spec):
    def series(*args, **kwargs):
        raise MemoryError("out")

    swap_spec("cnn-fsf", series=series)
    with pytest.raises(InsufficientMemoryError, match="'cnn-fsf' ran out of memory"):
        segment_series(IMAGES, "cnn-fsf", device="cpu")


@pytest.mark.parametrize(
    ("keywords", "error"),
    [({"seed": -1}, ValueError), ({"threads": 0}, ValueError), ({"bogus": 1}, ValueError)],
)
def test_series_and_segment_refuse_the_same_bad_keywords(keywords, error):
    with pytest.raises(error) as single:
        segment(IMAGES[0], "cnn", device="cpu", **keywords)
    with pytest.raises(error) as series:
        segment_series(IMAGES, "cnn", device="cpu", **keywords)
    assert str(series.value) == str(single.value)


def test_series_refuses_methods_that_train_no_network():
    with pytest.raises(ValueError, match="needs a CNN method"):
        segment_series(IMAGES, "kmeans")
