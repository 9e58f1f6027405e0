"""A batch killed with SIGKILL midway is finished by re-running the same command, and
leaves no truncated TIFF and no temporary file behind."""

import json
import subprocess
import sys
import time

import imageio.v3 as iio

from napari_unsupseg.cli import main
from napari_unsupseg.io import TEMP_SUFFIX, read_labels
from synthetic import noisy_blocks

N_IMAGES = 40


def test_killed_run_resumes_to_completion(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(N_IMAGES):
        iio.imwrite(inputs / f"im{index:02d}.png", noisy_blocks((32, 32), seed=index)[0])
    out = tmp_path / "out"
    args = ["segment", str(inputs), "-m", "kmeans", "--param", "n_clusters=4", "-o", str(out)]

    process = subprocess.Popen(
        [sys.executable, "-m", "napari_unsupseg.cli", *args, "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*_labels.tif")) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.005)
        process.kill()  # SIGKILL: no handler runs, no cleanup
    finally:
        process.kill()
        process.wait(timeout=30)
    done_before = len(list(out.glob("*_labels.tif")))
    print(f"killed after {done_before} of {N_IMAGES} images")
    assert 1 <= done_before < N_IMAGES
    assert not (out / "run.json").exists()  # it really died before the end

    assert main([*args, "-q"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["counts"]["failed"] == 0
    # Outputs appear only complete (atomic rename): every one found is kept as it is.
    assert record["counts"]["skipped"] == done_before
    assert record["counts"]["ok"] + record["counts"]["skipped"] == N_IMAGES
    outputs = sorted(out.glob("*_labels.tif"))
    assert len(outputs) == N_IMAGES
    for path in outputs:
        assert read_labels(path).shape == (32, 32)
    assert not list(out.glob(f"*{TEMP_SUFFIX}")) and not list(out.glob(".*"))
