"""Bad input gets a clear ValueError/TypeError and the caller's array is untouched.

Each test here backs a row of docs/bad-inputs.md (the last test checks that every test
the table names exists).
"""

import ast
import gc
import re
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import napari_unsupseg as us
from napari_unsupseg import InsufficientMemoryError, SegmentationCancelled, _memory
from synthetic import fast_params, noisy_blocks

METHODS = list(us.available_methods())


def _segment_kmeans(image, **kwargs):
    return us.segment(image, "kmeans", n_clusters=2, **{"output": "classes", **kwargs})


@pytest.mark.parametrize(
    ("image", "kwargs", "error", "message"),
    [
        (np.zeros((0, 5)), {}, ValueError, "empty"),
        (np.ones((1, 1)), {}, ValueError, "single pixel"),
        (np.full((8, 8), 7, np.uint16), {}, ValueError, "constant"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), {}, ValueError, "NaN or infinite"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), {}, ValueError, "NaN or infinite"),
        (np.ones((4, 4), np.complex64), {}, TypeError, "complex"),
        (np.array([["a", "b"], ["c", "d"]]), {}, TypeError, "not numeric"),
        (np.zeros((2, 2, 2, 2, 2, 2)), {}, ValueError, "image has 6 spatial dimensions"),
        (np.arange(16.0).reshape(4, 4), {"channel_axis": 2}, ValueError, "out of range"),
        (np.arange(16.0).reshape(4, 4), {"channel_axis": 1.5}, TypeError, "channel_axis"),
        (
            np.arange(64.0).reshape(4, 4, 4),
            {"channel_axis": 0, "normalize": "x"},
            ValueError,
            "normalize",
        ),
        (np.arange(8.0).reshape(2, 4), {"channel_axis": 0}, ValueError, "two spatial"),
        (
            np.random.default_rng(0).random((40, 40, 40)),
            {"channel_axis": 0},
            ValueError,
            "channels are supported",
        ),
        (np.arange(16.0).reshape(4, 4), {"seed": -1}, ValueError, "seed"),
        (np.arange(16.0).reshape(4, 4), {"seed": 1.5}, TypeError, "seed"),
        (np.arange(16).reshape(4, 4).astype("timedelta64[s]"), {}, TypeError, "durations"),
        (np.array([[0.0, 1e300], [1.0, 2.0]]), {"normalize": "none"}, ValueError, "too large"),
    ],
    ids=[
        "empty",
        "one-pixel",
        "constant",
        "nan",
        "inf",
        "complex",
        "strings",
        "six-dims",
        "channel-axis-out-of-range",
        "channel-axis-not-int",
        "unknown-normalize",
        "one-spatial-dim",
        "too-many-channels",
        "negative-seed",
        "float-seed",
        "timedelta",
        "too-large-for-float32-unnormalized",
    ],
)
def test_bad_image_gets_clear_error(image, kwargs, error, message):
    before = image.copy()
    with pytest.raises(error, match=message):
        _segment_kmeans(image, **kwargs)
    np.testing.assert_array_equal(image, before)


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"available methods: .*kmeans"):
        us.segment(np.eye(4), "watershed")


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_clusters": 0}, ValueError, "out of range"),
        ({"n_clusters": 2.5}, ValueError, "whole number"),
        ({"n_clusters": "many"}, TypeError, "must be a number"),
        ({"n_clusters": float("nan")}, ValueError, "NaN"),
        ({"n_clusters": float("inf")}, ValueError, "finite"),
        ({"spatial_weight": float("inf")}, ValueError, "finite"),
        ({"clusters": 3}, ValueError, "no parameter 'clusters'.*n_clusters"),
    ],
)
def test_bad_parameters_get_clear_errors(params, error, message):
    with pytest.raises(error, match=message):
        us.segment(np.eye(4), "kmeans", **params)


def test_bad_choice_parameter_lists_choices():
    with pytest.raises(ValueError, match="one of full, tied, diag, spherical"):
        us.segment(np.eye(4), "gmm", covariance_type="round")


def test_bool_image_is_accepted():
    image = np.zeros((16, 16), bool)
    image[:, 8:] = True
    labels = _segment_kmeans(image)
    assert set(np.unique(labels)) == {1, 2}


def test_label_image_passed_as_image_is_segmented_by_value():
    # The API cannot tell a label image from an image: its ids are treated as
    # intensities (the widgets only offer Image layers).
    labels_in = np.repeat(np.arange(4, dtype=np.int32), 16).reshape(8, 8) * 1000
    labels = _segment_kmeans(labels_in)
    assert labels.shape == labels_in.shape


def test_negative_and_huge_integer_images_work():
    image = np.zeros((16, 16), np.int64)
    image[:, 8:] = 10**15
    image[:4] = -(10**12)
    labels = us.segment(image, "kmeans", n_clusters=3, output="classes")
    assert len(np.unique(labels)) == 3


def test_values_at_the_float64_limits_are_not_mistaken_for_a_constant_image():
    big = np.finfo(np.float64).max
    image = np.zeros((16, 16))
    image[:, :8] = -big
    image[:, 8:] = big
    labels = _segment_kmeans(image)
    assert (labels[:, :8] == labels[0, 0]).all() and (labels[:, 8:] != labels[0, 0]).all()


def test_job_that_does_not_fit_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: 1024**2)  # 1 MiB free
    image, _ = noisy_blocks(shape=(256, 256))
    before = image.copy()
    with pytest.raises(InsufficientMemoryError, match=r"would fit: crop the image"):
        us.segment(image, "gmm", n_components=3)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("method", METHODS)
def test_input_unchanged_after_successful_run(method):
    image, _ = noisy_blocks(shape=(32, 32))
    before = image.copy()
    spec = us.available_methods()[method]
    us.segment(image, method, **fast_params(spec))
    assert image.tobytes() == before.tobytes()


_dtypes = st.sampled_from(
    [np.uint8, np.uint16, np.int16, np.int64, np.float32, np.float64, np.bool_, np.complex64]
)


@st.composite
def arbitrary_images(draw):
    dtype = np.dtype(draw(_dtypes))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=9))
    elements = None
    if dtype.kind == "f":
        elements = st.one_of(
            st.floats(-1e6, 1e6, width=dtype.itemsize * 8),
            st.sampled_from([np.nan, np.inf, -np.inf]),
        )
    image = draw(hnp.arrays(dtype, shape, elements=elements))
    channel_axis = draw(st.one_of(st.none(), st.integers(-5, 4)))
    return image, channel_axis


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=arbitrary_images(), method=st.sampled_from(METHODS), seed=st.integers(0, 2**16))
def test_segment_returns_valid_labels_or_raises_clearly(data, method, seed):
    image, channel_axis = data
    before = image.copy()
    spec = us.available_methods()[method]
    try:
        labels = us.segment(
            image, method, channel_axis=channel_axis, seed=seed, **fast_params(spec)
        )
    except (ValueError, TypeError) as error:
        assert str(error)  # a message, not a bare exception
    else:
        assert labels.dtype == np.int32
        spatial = list(image.shape)
        if channel_axis is not None:
            del spatial[channel_axis]
        elif image.ndim >= 3 and image.shape[-1] in (3, 4):
            del spatial[-1]
        assert labels.shape == tuple(spatial)
        ids = np.unique(labels[labels > 0])  # objects leave 0 for the background
        np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1))
    np.testing.assert_array_equal(image, before)


# ---------------------------------------------------------------- out of memory


class _Activations:
    """Stands for the GPU tensors a failed run leaves in its frames."""


@pytest.fixture
def cnn_raising(swap_spec):
    """Make the 'cnn' engine hold some 'activations' and then raise ``error``.

    Returns (set_error, weak reference to the last run's activations).
    """
    state = {"error": None, "held": None}

    def engine(features, **_):
        activations = _Activations()
        state["held"] = weakref.ref(activations)
        raise state["error"]

    swap_spec("cnn", run=engine)
    return state


def _cuda_out_of_memory():
    import torch

    return torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"
    )


@pytest.mark.parametrize(
    "make_error",
    [_cuda_out_of_memory, lambda: RuntimeError("CUDA error: out of memory")],
    ids=["torch-OutOfMemoryError", "runtime-error-text"],
)
def test_cuda_out_of_memory_becomes_plain_advice_and_frees_gpu_memory(
    cnn_raising, monkeypatch, make_error
):
    import torch

    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    cnn_raising["error"] = make_error()
    image, _ = noisy_blocks(shape=(32, 32))
    before = image.copy()

    with pytest.raises(InsufficientMemoryError) as caught:
        us.segment(image, "cnn", device="cuda", max_iter=2, n_channels=8)

    message = str(caught.value)
    assert "ran out of GPU memory" in message and "device='cpu'" in message
    assert "Tried to allocate" not in message and "Traceback" not in message
    assert emptied, "torch.cuda.empty_cache was not called"
    # The activations are gone although the error (and its cause) is still alive.
    assert caught.value.__cause__ is not None
    gc.collect()
    assert cnn_raising["held"]() is None, "the failed run's frames still hold its tensors"
    assert image.tobytes() == before.tobytes()


def test_cpu_allocation_failure_in_torch_says_main_memory(cnn_raising):
    cnn_raising["error"] = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory"
    )
    with pytest.raises(InsufficientMemoryError, match="main memory is full"):
        us.segment(noisy_blocks(shape=(16, 16))[0], "cnn", device="cpu", max_iter=2)


def test_engine_memory_error_keeps_its_own_advice(cnn_raising):
    cnn_raising["error"] = InsufficientMemoryError("needs 9 GiB; About 10% would fit: crop")
    with pytest.raises(InsufficientMemoryError) as caught:
        us.segment(noisy_blocks(shape=(16, 16))[0], "cnn", max_iter=2)
    assert str(caught.value) == "needs 9 GiB; About 10% would fit: crop"


def test_other_runtime_errors_are_not_called_memory_errors(cnn_raising):
    cnn_raising["error"] = RuntimeError("CUDA error: device-side assert triggered")
    with pytest.raises(RuntimeError, match="device-side assert") as caught:
        us.segment(noisy_blocks(shape=(16, 16))[0], "cnn", max_iter=2)
    assert not isinstance(caught.value, MemoryError)


# ---------------------------------------------------------------- cancelled runs


@pytest.mark.parametrize("method", ["kmeans", "cnn"])
def test_cancelled_run_raises_cancelled_and_leaves_input_untouched(method):
    image, _ = noisy_blocks(shape=(32, 32))
    before = image.copy()
    events = []

    def progress(event):
        events.append(event)
        return len(events) >= 2  # stop at the second progress event

    spec = us.available_methods()[method]
    params = {**fast_params(spec), "max_iter": 50} if spec.uses_torch else fast_params(spec)
    with pytest.raises(SegmentationCancelled):
        us.segment(image, method, progress=progress, should_stop=lambda: bool(events), **params)
    assert image.tobytes() == before.tobytes()


# ---------------------------------------------------------------- the docs table

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_row_of_the_bad_input_table_names_tests_that_exist():
    lines = DOC.read_text().splitlines()
    separator = [bool(re.fullmatch(r"\|[-:| ]+\|", line.strip())) for line in lines]
    body = [
        line
        for index, line in enumerate(lines)
        if line.startswith("|")
        and not separator[index]
        and not (index + 1 < len(lines) and separator[index + 1])  # a header row
    ]
    assert len(body) >= 30, "the bad-input tables are missing or short"
    root = DOC.parents[1]
    for row in body:
        references = _REFERENCE.findall(row)
        assert references, f"row names no test: {row}"
        for file, name in references:
            assert (root / file).is_file(), f"{file} (named in docs/bad-inputs.md) is missing"
            assert name in _test_functions(root / file), f"{file}::{name} does not exist"


def test_cnn_job_too_big_for_the_gpu_is_refused_before_it_starts(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (64 * 2**20, 80 * 2**30))
    image, _ = noisy_blocks((256, 256))
    original = image.copy()
    with pytest.raises(InsufficientMemoryError, match="of GPU memory is available") as info:
        us.segment(image, "cnn", device="cuda")
    assert "device='cpu'" in str(info.value)
    np.testing.assert_array_equal(image, original)


def test_cpu_runs_do_not_ask_the_gpu(monkeypatch):
    import torch

    def no_gpu_here(device=None):
        raise AssertionError("a CPU run asked for the GPU's free memory")

    monkeypatch.setattr(torch.cuda, "mem_get_info", no_gpu_here)
    image, _ = noisy_blocks((32, 32))
    labels = us.segment(image, "cnn", device="cpu", max_iter=1, n_channels=4)
    assert labels.shape == image.shape[:2]
