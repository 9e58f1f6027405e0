"""The command line on bad input: a one-line reason per image or a usage error, the
documented exit codes, and never a traceback.

Each test here backs a row of docs/bad-inputs.md; tests/test_cli.py covers more usage
errors (unknown method, unknown parameter, missing inputs) and corrupt files in a folder.
"""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_unsupseg import _memory
from napari_unsupseg.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from napari_unsupseg.io import write_labels
from synthetic import noisy_blocks
from test_cli import KMEANS, record

BAD_IMAGES = {
    "empty.png": b"",
    "text.png": b"this is not a PNG",
    "truncated.tif": b"II*\x00\x08\x00\x00\x00",
    "notes.txt": b"not an image",
}


def _write_bad_arrays(folder):
    """Files that read fine but hold images segment() refuses; name -> expected words."""
    iio.imwrite(folder / "constant.png", np.full((16, 16), 9, np.uint8))
    iio.imwrite(folder / "pixel.png", np.full((1, 1), 9, np.uint8))
    tifffile.imwrite(folder / "nan.tif", np.full((8, 8), np.nan, np.float32))
    tifffile.imwrite(folder / "complex.tif", np.ones((8, 8), np.complex64))
    tifffile.imwrite(folder / "six_dims.tif", np.arange(64, dtype=np.uint16).reshape((2,) * 6))
    return {
        "constant.png": "constant",
        "pixel.png": "single pixel",
        "nan.tif": "NaN or infinite",
        "complex.tif": "complex",
        "six_dims.tif": "image has 6 spatial dimensions",
    }


def test_unreadable_files_fail_one_by_one_with_a_reason(tmp_path, capsys):
    for name, content in BAD_IMAGES.items():
        (tmp_path / name).write_bytes(content)
    iio.imwrite(tmp_path / "good.png", noisy_blocks((16, 16))[0])
    out = tmp_path / "out"
    inputs = [str(tmp_path / name) for name in [*BAD_IMAGES, "good.png"]]

    assert main(["segment", *inputs, *KMEANS, "-o", str(out)]) == EXIT_FAILED

    data, rows = record(out)
    assert data["counts"] == {"ok": 1, "failed": 4, "skipped": 0}
    errors = {row["input"].rsplit("/", 1)[-1]: row["error"] for row in rows}
    assert errors["good.png"] == ""
    assert "the file is empty" in errors["empty.png"]
    assert "not a PNG file" in errors["text.png"]
    assert "cannot read" in errors["truncated.tif"]
    assert "unsupported file type '.txt'" in errors["notes.txt"]
    assert sorted(p.name for p in out.glob("*_labels.tif")) == ["good_labels.tif"]
    assert "Traceback" not in capsys.readouterr().err


def test_images_segment_refuses_fail_with_its_message(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = _write_bad_arrays(folder)
    out = tmp_path / "out"

    assert main(["segment", str(folder), *KMEANS, "-o", str(out)]) == EXIT_FAILED

    _data, rows = record(out)
    errors = {row["input"].rsplit("/", 1)[-1]: row["error"] for row in rows}
    assert set(errors) == set(expected)
    for name, words in expected.items():
        assert words in errors[name], (name, errors[name])
    assert not list(out.glob("*_labels.tif"))
    assert "Traceback" not in capsys.readouterr().err


def test_wrong_channel_axis_fails_the_image_with_the_axis_named(tmp_path):
    iio.imwrite(tmp_path / "grey.png", noisy_blocks((16, 16))[0][..., 0])
    out = tmp_path / "out"
    args = ["segment", str(tmp_path / "grey.png"), *KMEANS, "--channel-axis", "5"]
    assert main([*args, "-o", str(out)]) == EXIT_FAILED
    assert "channel_axis=5 is out of range" in record(out)[1][0]["error"]


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("n_clusters=inf", "finite"),
        ("n_clusters=nan", "NaN"),
        ("n_clusters=many", "must be a number"),
        ("n_clusters=2.5", "whole number"),
        ("n_clusters=100000", "out of range"),
        ("=3", "KEY=VALUE"),
    ],
)
def test_bad_param_value_is_a_usage_error(tmp_path, capsys, param, message):
    iio.imwrite(tmp_path / "img.png", noisy_blocks((16, 16))[0])
    args = ["segment", str(tmp_path / "img.png"), "-m", "kmeans", "--param", param, "-q"]
    assert main([*args, "-o", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_bad_choice_param_lists_the_choices(tmp_path, capsys):
    iio.imwrite(tmp_path / "img.png", noisy_blocks((16, 16))[0])
    args = ["segment", str(tmp_path / "img.png"), "-m", "gmm", "--param", "covariance_type=x"]
    assert main([*args, "-o", str(tmp_path / "out"), "-q"]) == EXIT_USAGE
    assert "one of full, tied, diag, spherical" in capsys.readouterr().err


def test_unknown_method_in_bench_is_a_usage_error(tmp_path, capsys):
    assert main(["bench", str(tmp_path), "--methods", "watershed", "-q"]) == EXIT_USAGE
    assert "unknown method 'watershed'" in capsys.readouterr().err


def test_job_too_big_for_memory_fails_with_what_would_fit(tmp_path, monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: 1024**2)  # 1 MiB free
    iio.imwrite(tmp_path / "img.png", noisy_blocks((256, 256))[0])
    out = tmp_path / "out"
    args = ["segment", str(tmp_path / "img.png"), "-m", "gmm", "-q", "-o", str(out)]
    assert main(args) == EXIT_FAILED
    error = record(out)[1][0]["error"]
    assert "memory is available" in error and "would fit: crop the image" in error


# ---------------------------------------------------------------- evaluate


@pytest.fixture
def truth_file(tmp_path):
    _image, truth = noisy_blocks((16, 16))
    return write_labels(tmp_path / "truth.tif", truth), truth


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(b"plain text"), "cannot read"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "cannot read"),
        (lambda p: np.save(p, np.full((16, 16), 0.5)), "non-integer"),
        (lambda p: np.save(p, np.ones((16, 16), np.complex64)), "integer ids"),
    ],
    ids=["empty", "not-npy", "pickled-objects", "fractional", "complex"],
)
def test_evaluate_unreadable_or_non_label_prediction_is_a_usage_error(
    tmp_path, capsys, truth_file, make, message
):
    pred = tmp_path / "pred.npy"
    make(pred)
    assert main(["evaluate", str(pred), str(truth_file[0])]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_evaluate_unsupported_suffix_is_a_usage_error(tmp_path, capsys, truth_file):
    (tmp_path / "pred.jpg").write_bytes(b"\xff\xd8\xff")
    assert main(["evaluate", str(tmp_path / "pred.jpg"), str(truth_file[0])]) == EXIT_USAGE
    assert "unsupported file type '.jpg'" in capsys.readouterr().err


def test_evaluate_negative_and_huge_ids_score_normally(tmp_path, capsys, truth_file):
    path, truth = truth_file
    huge = np.array([-7, 10**15, -(2**62), 2**62], np.int64)[truth - 1]
    np.save(tmp_path / "pred.npy", huge)
    assert main(["evaluate", str(tmp_path / "pred.npy"), str(path), "--json"]) == EXIT_OK
    assert '"miou": 1.0' in capsys.readouterr().out


def test_evaluate_bad_threshold_is_a_usage_error(tmp_path, capsys, truth_file):
    path, _ = truth_file
    assert main(["evaluate", str(path), str(path), "--thresholds", "1.5"]) == EXIT_USAGE
    assert "(0, 1]" in capsys.readouterr().err
