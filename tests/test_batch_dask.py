"""Batches on real dask.distributed clusters on loopback: an existing cluster started
with the `dask scheduler` / `dask worker` commands, and a LocalCluster (--workers)."""

import json
import os
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest

from napari_unsupseg.cli import main
from napari_unsupseg.io import read_labels
from synthetic import noisy_blocks

METHOD = ["-m", "gmm", "--param", "n_components=3", "--param", "max_samples=400", "-q"]


def image_folder(folder, n=4, size=24):
    folder.mkdir()
    for index in range(n):
        iio.imwrite(folder / f"im{index}.png", noisy_blocks((size, size), seed=index)[0])
    return folder


def start(args, log):
    """A `dask ...` command in its own process group, so teardown ends its children."""
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker --nworkers 2 --nthreads 1` on 127.0.0.1; yields
    the address and the workers' process ids."""
    from distributed import Client

    tmp_path = tmp_path_factory.mktemp("cluster")
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "wb")  # noqa: SIM115 - closed at teardown
    common = ["--no-dashboard"]
    processes = [
        start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(scheduler_file),
                *common,
            ],
            log,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes.append(
            start(
                [
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    *common,
                ],
                log,
            )
        )
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
            pids = set(client.run(os.getpid).values())
        yield address, pids
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def differing_images(folder):
    """Images on which one thread (a Dask worker's OMP_NUM_THREADS=1) and two gave
    different labels before the engine pinned its own thread counts: k-means's sums
    on the first, the CNN's training on the second."""
    folder.mkdir()
    iio.imwrite(folder / "blocks100.png", noisy_blocks((100, 100), seed=1)[0])
    iio.imwrite(folder / "blocks48.png", noisy_blocks((48, 48), noise=40, seed=2)[0])
    return folder


@pytest.mark.parametrize("method", ["kmeans", "cnn"])
def test_existing_cluster_gives_the_serial_labels(tmp_path, loopback_cluster, method):
    address, worker_pids = loopback_cluster
    inputs = differing_images(tmp_path / "in")
    serial, cluster = tmp_path / "serial", tmp_path / "cluster"
    args = ["segment", str(inputs), "-m", method, "--device", "cpu", "-q"]
    assert main([*args, "-o", str(serial)]) == 0
    assert main([*args, "--scheduler", address, "-o", str(cluster)]) == 0

    record = json.loads((cluster / "run.json").read_text())
    assert record["scheduler"] == address
    assert record["counts"] == {"ok": 2, "failed": 0, "skipped": 0}
    # Every image ran in a worker process of that cluster, none in this one.
    ran_on = {int(row["worker"].rsplit(":", 1)[1]) for row in record["images"]}
    assert ran_on <= worker_pids and os.getpid() not in ran_on
    for name in ("blocks100_labels.tif", "blocks48_labels.tif"):
        assert np.array_equal(read_labels(cluster / name), read_labels(serial / name)), name


def test_unreachable_scheduler_is_a_usage_error(tmp_path, capsys):
    import dask

    inputs = image_folder(tmp_path / "in", n=1)
    args = ["segment", str(inputs), *METHOD, "--scheduler", "tcp://127.0.0.1:9", "-o"]
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert main([*args, str(tmp_path / "out")]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_local_workers_report_a_corrupt_file_and_finish_the_rest(tmp_path):
    inputs = image_folder(tmp_path / "in", n=3)
    (inputs / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    out = tmp_path / "out"
    assert main(["segment", str(inputs), *METHOD, "--workers", "2", "-o", str(out)]) == 1
    record = json.loads((out / "run.json").read_text())
    assert record["scheduler"].startswith("LocalCluster(2 workers")
    assert record["counts"] == {"ok": 3, "failed": 1, "skipped": 0}
    failed = [row for row in record["images"] if row["status"] == "failed"]
    assert failed[0]["input"].endswith("corrupt.jpg") and "cannot read" in failed[0]["error"]
    assert sorted(p.name for p in out.glob("*.tif")) == [f"im{i}_labels.tif" for i in range(3)]
