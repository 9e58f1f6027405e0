"""`unsupseg segment / evaluate / methods` run in-process on real files in tmp_path."""

import csv
import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

import napari_unsupseg as us
from napari_unsupseg.cli import main
from napari_unsupseg.io import TEMP_SUFFIX, read_image, read_labels, write_labels
from synthetic import noisy_blocks

KMEANS = ["-m", "kmeans", "--param", "n_clusters=3", "--param", "max_samples=500", "-q"]


def two_channel(shape=(24, 24), seed=0):
    """(2, Y, X) uint16: a bright square in channel 0, a stripe in channel 1."""
    rng = np.random.default_rng(seed)
    image = rng.normal(300, 20, (2, *shape))
    image[0, 4:12, 4:12] += 2000
    image[1, :, 14:20] += 1500
    return image.astype(np.uint16)


def make_folder(folder, n_png=2):
    """PNG photos-like images, a z-stack TIFF and an ImageJ CYX TIFF."""
    folder.mkdir()
    for index in range(n_png):
        iio.imwrite(folder / f"img{index}.png", noisy_blocks((24, 24), seed=index)[0])
    stack = np.repeat(two_channel()[:1], 4, axis=0)
    stack[2:, :12] += 500
    tifffile.imwrite(folder / "stack.tif", stack, photometric="minisblack")
    tifffile.imwrite(folder / "hyper.tif", two_channel(), imagej=True, metadata={"axes": "CYX"})
    return folder


def record(outdir):
    data = json.loads((outdir / "run.json").read_text())
    with open(outdir / "run.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return data, rows


def test_segment_folder_writes_labels_overlays_and_record(tmp_path):
    inputs = make_folder(tmp_path / "in")
    out = tmp_path / "out"
    args = [*KMEANS, "--output", "classes", "--seed", "3", "--overlay", "-o", str(out)]
    assert main(["segment", str(inputs), *args]) == 0

    shapes = {
        "img0": (24, 24),
        "img1": (24, 24),
        "stack": (4, 24, 24),  # a z-stack: one volume of labels
        "hyper": (24, 24),  # channels named in the TIFF are channels, not planes
    }
    for stem, shape in shapes.items():
        labels = read_labels(out / f"{stem}_labels.tif")
        assert labels.shape == shape and labels.dtype == np.int32 and labels.min() == 1
        overlay = iio.imread(out / f"{stem}_overlay.png")
        assert overlay.shape == (24, 24, 3)
    # The command line and the Python API share one path: same labels.
    direct = us.segment(
        read_image(inputs / "img0.png"),
        "kmeans",
        seed=3,
        n_clusters=3,
        max_samples=500,
        output="classes",
    )
    assert np.array_equal(read_labels(out / "img0_labels.tif"), direct)

    data, rows = record(out)
    assert data["method"] == "kmeans" and data["seed"] == 3 and data["device"] == "auto"
    assert data["params"] == {"n_clusters": 3, "spatial_weight": 0.0, "max_samples": 500}
    assert data["version"] == us.__version__ and data["scheduler"] == "serial"
    assert data["counts"] == {"ok": 4, "failed": 0, "skipped": 0}
    by_stem = {row["output"].removesuffix("_labels.tif"): row for row in rows}
    assert set(by_stem) == set(shapes)
    for stem, row in by_stem.items():
        assert row["status"] == "ok" and row["error"] == ""
        assert row["overlay"] == f"{stem}_overlay.png"
        assert int(row["n_labels"]) == read_labels(out / row["output"]).max()
        assert float(row["seconds"]) >= float(row["segment_seconds"]) > 0
        assert row["method"] == "kmeans" and row["seed"] == "3"
    assert by_stem["hyper"]["channel_axis"] == "0" and by_stem["stack"]["channel_axis"] == ""
    assert not list(out.glob(f".*{TEMP_SUFFIX}"))


def test_channel_axis_option(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", two_channel())  # axes "QYX": unknown
    for extra, shape in [([], (2, 24, 24)), (["--channel-axis", "0"], (24, 24))]:
        out = tmp_path / f"out{len(extra)}"
        assert main(["segment", str(tmp_path / "plain.tif"), *KMEANS, *extra, "-o", str(out)]) == 0
        assert read_labels(out / "plain_labels.tif").shape == shape


def test_sample_input(tmp_path):
    out = tmp_path / "out"
    assert main(["segment", "--sample", "cells", *KMEANS, "-o", str(out)]) == 0
    _data, rows = record(out)
    assert rows[0]["input"] == "sample:cells" and rows[0]["channel_axis"] == "0"
    assert read_labels(out / "cells_labels.tif").shape == (256, 256)


def test_corrupt_file_is_reported_and_the_rest_succeed(tmp_path, capsys):
    inputs = make_folder(tmp_path / "in")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (inputs / "wrong.tif").write_bytes(b"this is text")
    out = tmp_path / "out"
    assert main(["segment", str(inputs), *KMEANS, "-o", str(out)]) == 1
    data, rows = record(out)
    assert data["counts"] == {"ok": 4, "failed": 2, "skipped": 0}
    failed = {row["input"].rsplit("/", 1)[-1]: row for row in rows if row["status"] == "failed"}
    assert set(failed) == {"broken.png", "wrong.tif"}
    assert "not a TIFF file" in failed["wrong.tif"]["error"]
    assert "cannot read" in failed["broken.png"]["error"]
    assert not (out / "broken_labels.tif").exists()
    assert "2 failed" in capsys.readouterr().out


def test_rerun_skips_done_redoes_damaged_and_overwrite_redoes_all(tmp_path):
    inputs = make_folder(tmp_path / "in", n_png=3)
    out = tmp_path / "out"
    args = ["segment", str(inputs), *KMEANS, "-o", str(out)]
    assert main(args) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*_labels.tif")}

    # A truncated output (as a non-atomic writer would leave) and a stale temp file.
    damaged = out / "img1_labels.tif"
    damaged.write_bytes(damaged.read_bytes()[:200])
    (out / f".img2_labels.tif.abc{TEMP_SUFFIX}").write_bytes(b"partial")
    assert main(args) == 0
    data, rows = record(out)
    status = {row["output"]: row["status"] for row in rows}
    assert status.pop("img1_labels.tif") == "ok"
    assert set(status.values()) == {"skipped"}
    assert read_labels(damaged).shape == (24, 24)
    assert not list(out.glob(f".*{TEMP_SUFFIX}"))
    for name, stamp in stamps.items():
        assert (out / name).stat().st_mtime_ns == stamp or name == "img1_labels.tif"

    assert main([*args, "--overwrite"]) == 0
    data, _ = record(out)
    assert data["counts"] == {"ok": 5, "failed": 0, "skipped": 0}
    assert all((out / n).stat().st_mtime_ns > s for n, s in stamps.items() if n != damaged.name)


def test_overlay_missing_means_not_done(tmp_path):
    inputs = make_folder(tmp_path / "in", n_png=1)
    out = tmp_path / "out"
    assert main(["segment", str(inputs / "img0.png"), *KMEANS, "-o", str(out)]) == 0
    assert main(["segment", str(inputs / "img0.png"), *KMEANS, "--overlay", "-o", str(out)]) == 0
    assert record(out)[1][0]["status"] == "ok" and (out / "img0_overlay.png").is_file()


def test_recursive_scan_and_name_clashes(tmp_path):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / ".hidden").mkdir()
    image = noisy_blocks((16, 16))[0]
    iio.imwrite(inputs / "a.png", image)
    tifffile.imwrite(inputs / "a.tif", image)
    iio.imwrite(inputs / "sub" / "b.png", image)
    iio.imwrite(inputs / ".hidden" / "c.png", image)
    (inputs / "notes.txt").write_text("not an image")

    flat = tmp_path / "flat"
    assert main(["segment", str(inputs), *KMEANS, "-o", str(flat)]) == 0
    assert sorted(p.name for p in flat.glob("*.tif")) == ["a-2_labels.tif", "a_labels.tif"]
    deep = inputs / "out"  # an output folder inside the input folder is not scanned
    assert main(["segment", str(inputs), "--recursive", *KMEANS, "-o", str(deep)]) == 0
    assert (deep / "sub" / "b_labels.tif").is_file()
    assert main(["segment", str(inputs), "--recursive", *KMEANS, "-o", str(deep)]) == 0
    assert record(deep)[0]["counts"] == {"ok": 0, "failed": 0, "skipped": 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nosuch"], "unknown method 'nosuch'"),
        (["-m", "kmeans", "--param", "n_clusters=0"], "out of range"),
        (["-m", "kmeans", "--param", "colour=3"], "has no parameter 'colour'"),
        (["-m", "kmeans", "--param", "n_clusters"], "KEY=VALUE"),
        (["-m", "kmeans", "--seed", "-1"], "seed must be"),
        (["-m", "kmeans", "MISSING"], "no such file or folder"),
        (["-m", "kmeans", "EMPTY"], "no images found"),
        (["-m", "kmeans", "--sample", "moon"], "unknown sample 'moon'"),
        (["-m", "kmeans"], "nothing to segment"),
        (["-m", "kmeans", "--sample", "coffee", "--workers", "-1"], "--workers must be 0"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / a) if a in ("MISSING", "EMPTY") else a for a in args]
    assert main(["segment", *args, "-o", str(tmp_path / "out"), "-q"]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage errors
        main(["segment", "x.png"])
    assert exit_info.value.code == 2


def test_evaluate_command(tmp_path, capsys):
    _image, truth = noisy_blocks((32, 32))
    prediction = truth.copy()
    prediction[:16, :16] = 2  # one quadrant merged into its neighbour
    write_labels(tmp_path / "pred.tif", prediction)
    write_labels(tmp_path / "truth.tif", truth)
    args = ["evaluate", str(tmp_path / "pred.tif"), str(tmp_path / "truth.tif"), "--json"]
    assert main([*args, "--csv", str(tmp_path / "m.csv")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    from napari_unsupseg.evaluation import evaluate

    assert metrics["miou"] == pytest.approx(evaluate(prediction, truth)["miou"])
    assert metrics["miou"] == pytest.approx((0.5 + 0.5 + 1 + 1) / 4)
    with open(tmp_path / "m.csv", newline="") as handle:
        saved = {row["metric"]: row["value"] for row in csv.DictReader(handle)}
    assert float(saved["miou"]) == pytest.approx(metrics["miou"])

    # Ground truth as a BSDS-style stack of two annotators in an .npz
    np.savez(tmp_path / "gt.npz", segs=np.stack([truth, np.ones_like(truth)]))
    segments = tmp_path / "segments.csv"
    args = ["evaluate", str(tmp_path / "pred.tif"), str(tmp_path / "gt.npz")]
    assert main([*args, "--segments-csv", str(segments)]) == 0
    printed = capsys.readouterr().out
    assert "n_annotators" in printed and "miou_coarse" in printed
    with open(segments, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 + 1 and {row["annotator"] for row in rows} == {"0", "1"}

    assert main(["evaluate", str(tmp_path / "pred.tif"), str(tmp_path / "nope.tif")]) == 2
    write_labels(tmp_path / "small.tif", truth[:8])
    assert main(["evaluate", str(tmp_path / "pred.tif"), str(tmp_path / "small.tif")]) == 2
    assert "shape" in capsys.readouterr().err


def test_methods_command(capsys):
    assert main(["methods", "kmeans"]) == 0
    text = capsys.readouterr().out
    assert "kmeans" in text and "n_clusters=5" in text and "[1, 256]" in text
    assert main(["methods", "nosuch"]) == 2
    assert main(["methods", "cnn"]) == 0
    text = capsys.readouterr().out
    assert "compactness=100.0" in text and "(only with refinement=slic)" in text
    assert main(["methods", "cnn-superpixel"]) == 0  # no refinement choice there
    assert "only with" not in capsys.readouterr().out.split("compactness")[1].splitlines()[0]


def test_help_documents_everything_without_heavy_imports():
    code = (
        "import sys, contextlib, io\n"
        "from napari_unsupseg.cli import main\n"
        "for args in (['--help'], ['segment', '--help'], ['evaluate', '--help'],"
        " ['bench', '--help']):\n"
        "    with contextlib.suppress(SystemExit): main(args)\n"
        "heavy = [m for m in ('torch', 'distributed', 'sklearn', 'napari', 'tifffile')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    text = result.stdout
    assert "HEAVY []" in text
    for word in ["segment", "evaluate", "bench", "exit codes", "--workers", "--scheduler"]:
        assert word in text
    for word in ["--overwrite", "--overlay", "--recursive", "--param", "--sample", "run.json"]:
        assert word in text
    for word in ["--segments-csv", "--json", "--methods", "--limit", "Fine", "Coarse"]:
        assert word in text


def test_objects_output_with_spacing_is_written_and_recorded(tmp_path):
    from synthetic import touching_blobs

    image, truth = touching_blobs((16, 64, 64), radius=8.0, spacing=(3.0, 1.0, 1.0))
    source = tmp_path / "stack.tif"
    tifffile.imwrite(source, (image * 1000).clip(0).astype(np.uint16))
    out = tmp_path / "out"
    args = ["segment", str(source), "-m", "kmeans", "--param", "n_clusters=2", "-q"]
    code = main([*args, "--output", "objects", "--spacing", "3,1,1", "-o", str(out)])
    assert code == 0
    labels = read_labels(out / "stack_labels.tif")
    assert labels.max() == truth.max() == 2 and np.mean(labels[truth == 0] == 0) > 0.97
    data, rows = record(out)
    assert data["output"] == "objects" and data["spacing"] == [3.0, 1.0, 1.0]
    assert rows[0]["output_kind"] == "objects" and rows[0]["n_labels"] == "2"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--output", "cells"], "invalid choice"),
        (["--spacing", "1,x"], "expected numbers"),
        (["--background-classes", "a"], "expected whole numbers"),
    ],
)
def test_bad_output_options_are_usage_errors(tmp_path, capsys, extra, message):
    source = tmp_path / "img.png"
    iio.imwrite(source, noisy_blocks((24, 24))[0])
    with pytest.raises(SystemExit) as exit_info:
        main(["segment", str(source), *KMEANS, *extra, "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
