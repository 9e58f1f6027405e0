"""Same seed, same labels whatever the environment says about threads.

Labels used to depend on OMP_NUM_THREADS (scikit-learn's k-means sums per thread) and
on torch's thread count (the CNN's gradients and BatchNorm statistics): the images
below are ones on which one and two threads gave different labels before the engine
pinned its own thread counts (see napari_unsupseg._threads).
"""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import napari_unsupseg as us
from napari_unsupseg.cli import main
from synthetic import noisy_blocks

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

#: method -> (image, parameters) where 1 and 2 threads disagreed before pinning
CASES = {
    "kmeans": (noisy_blocks((100, 100), seed=1)[0], {}),
    "gmm": (noisy_blocks((100, 100), noise=40, seed=1)[0], {}),
    "cnn": (noisy_blocks((48, 48), noise=40, seed=2)[0], {}),
    "cnn-fsf": (noisy_blocks((32, 32), seed=0)[0], {"max_iter": 30}),
}

CHILD = """
import json, sys
import numpy as np
import napari_unsupseg as us

cases = json.loads(sys.argv[1])
labels = {
    method: us.segment(np.load(path), method, seed=0, device="cpu", **params)
    for method, (path, params) in cases.items()
}
np.savez(sys.argv[2], **labels)
"""


@pytest.fixture(scope="module")
def labels_by_environment(tmp_path_factory):
    """Every case segmented in a subprocess with the thread variables set to 1, and in
    one without them (as many threads as the machine has cores)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: both environments would run one thread")
    folder = tmp_path_factory.mktemp("threads")
    cases = {}
    for method, (image, params) in CASES.items():
        np.save(folder / f"{method}.npy", image)
        cases[method] = (str(folder / f"{method}.npy"), params)
    results = {}
    for name, value in (("one thread", "1"), ("unset", None)):
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
        if value is not None:
            env.update(dict.fromkeys(THREAD_VARIABLES, value))
        out = folder / f"{name}.npz"
        command = [sys.executable, "-c", CHILD, json.dumps(cases), str(out)]
        subprocess.run(command, env=env, check=True, timeout=600)
        with np.load(out) as saved:
            results[name] = dict(saved)
    return results


@pytest.mark.parametrize("method", CASES)
def test_labels_do_not_depend_on_thread_variables(labels_by_environment, method):
    one, unset = labels_by_environment["one thread"][method], labels_by_environment["unset"][method]
    assert np.array_equal(one, unset), f"{(one != unset).mean():.2%} of pixels differ"


ENGINE_LIBRARIES = ("torch", "scikit_learn", "numpy", "scipy")


def thread_counts():
    """torch's count, and the thread count of each OpenMP/BLAS library that the methods
    use (torch's, scikit-learn's, numpy's, scipy's), as the calling thread sees them."""
    import torch
    from threadpoolctl import threadpool_info

    pools = {}
    for pool in threadpool_info():
        owner = next((name for name in ENGINE_LIBRARIES if name in pool["filepath"]), None)
        if owner is not None:  # (others, e.g. numba's OpenMP, are none of the engine's)
            pools.setdefault(f"{owner} {pool['internal_api']}", set()).add(pool["num_threads"])
    return torch.get_num_threads(), pools


@pytest.mark.parametrize(("method", "threads"), [("kmeans", 1), ("cnn", 1), ("cnn", 2)])
def test_a_run_uses_its_own_thread_counts_then_gives_the_callers_back(method, threads):
    """No oversubscription: torch runs on ``threads``, OpenMP and BLAS on one, whatever
    the caller set; the caller's settings are back afterwards, after a cancel too."""
    import torch

    image, _ = CASES[method]
    callers = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        seen = []

        def progress(event):
            if not seen:
                seen.append(thread_counts())

        us.segment(image, method, seed=0, device="cpu", threads=threads, progress=progress)
        torch_threads, pools = seen[0]
        assert torch_threads == (threads if method == "cnn" else 1)
        assert pools.pop("torch openmp", {torch_threads}) == {torch_threads}
        assert {"scikit_learn openmp", "numpy openblas"} <= set(pools), pools
        assert all(counts == {1} for counts in pools.values()), pools
        assert torch.get_num_threads() == 3
        with pytest.raises(us.SegmentationCancelled):
            us.segment(image, method, threads=threads, progress=lambda event: True)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(callers)


def test_concurrent_runs_in_one_process_give_the_labels_each_gives_alone():
    """Two runs at once (a Dask worker with several threads): neither one's thread
    count nor its random initial weights leak into the other. Both start together and
    train together, four times over."""
    image, _ = CASES["cnn"]
    alone = {n: us.segment(image, "cnn", device="cpu", threads=n) for n in (1, 2)}
    for _ in range(4):
        together, in_step = {}, threading.Barrier(2, timeout=60)

        def run(n, together=together, in_step=in_step):
            def progress(event):
                if event.iteration == 1 and event.stage == "training":
                    in_step.wait()

            in_step.wait()
            together[n] = us.segment(image, "cnn", device="cpu", threads=n, progress=progress)

        workers = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert set(together) == {1, 2}
        for n in (1, 2):
            assert np.array_equal(together[n], alone[n]), f"threads={n}"


def test_network_weights_come_from_the_seed_alone():
    """PyTorch's default initial weights after torch.manual_seed(seed), as before, but
    drawn without the global generator, which every thread of the process shares."""
    import torch
    from torch import nn

    from napari_unsupseg.cnn.net import build_net

    before = torch.get_rng_state()
    convs = [m for m in build_net(3, 8, 2, 2, seed=5) if isinstance(m, nn.Conv2d)]
    assert torch.equal(before, torch.get_rng_state())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        defaults = [nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 1)]
    for mine, default in zip(convs, defaults, strict=True):
        assert torch.equal(mine.weight, default.weight) and torch.equal(mine.bias, default.bias)


def test_segment_series_takes_threads():
    images = [noisy_blocks((32, 32), seed=s)[0] for s in range(2)]
    params = {"max_iter": 3, "n_channels": 8}
    first = us.segment_series(images, "cnn", device="cpu", threads=2, **params)
    again = us.segment_series(images, "cnn", device="cpu", threads=2, **params)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize(
    ("threads", "error"),
    [(0, ValueError), (-2, ValueError), (10**6, ValueError), (1.5, TypeError),
     (True, TypeError), ("2", TypeError), (None, TypeError)],
)  # fmt: skip
def test_bad_threads_get_clear_errors(threads, error):
    image = CASES["kmeans"][0]
    with pytest.raises(error, match="threads"):
        us.segment(image, "kmeans", threads=threads)
    with pytest.raises(error, match="threads"):
        us.segment_series([image], "cnn", threads=threads)


def test_cli_records_threads_and_refuses_bad_ones(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["segment", "--sample", "coffee", "-m", "kmeans", "-q", "-o", str(out)]
    assert main([*args, "--threads", "2"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["threads"] == 2
    assert "threads" in (out / "run.csv").read_text().splitlines()[0].split(",")
    assert main([*args, "--threads", "0"]) == 2
    assert "threads must be between 1" in capsys.readouterr().err


def test_widget_runs_with_its_threads_and_records_them(qtbot, make_napari_viewer):
    from napari_unsupseg._widgets.segment import SegmentWidget

    image, _ = CASES["cnn"]
    viewer = make_napari_viewer()
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    viewer.add_image(image, name="img", rgb=True)
    widget._method.value = "cnn"
    widget._device.value = "cpu"
    assert not widget._threads.native.isHidden() and widget._threads.value == 1
    widget._threads.value = 2
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=120_000)
    result = viewer.layers["img cnn"]
    assert result.metadata["threads"] == 2
    again = us.segment(image, "cnn", device="cpu", threads=result.metadata["threads"])
    np.testing.assert_array_equal(result.data, again)
    widget._method.value = "kmeans"
    assert widget._threads.native.isHidden()  # classical methods run on one thread
