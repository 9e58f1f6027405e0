"""Command-line traps a new user met (issue 21), each run for real in tmp_path."""

import contextlib
import io
import json
import re

import numpy as np
import pytest

from napari_unsupseg.cli import build_parser, main
from napari_unsupseg.io import read_labels
from napari_unsupseg.sample_data import cells

KMEANS = ["-m", "kmeans", "--param", "n_clusters=3", "--param", "max_samples=500", "-q"]


def test_method_defaults_to_cnn_as_the_api_does():
    args = build_parser().parse_args(["segment", "--sample", "coffee", "-o", "out"])
    assert args.method == "cnn"


def test_rerun_with_another_method_refuses_and_keeps_the_old_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", "--sample", "cells", *KMEANS, "-o", str(out)]) == 0
    before = (out / "cells_labels.tif").read_bytes()
    other = ["segment", "--sample", "cells", "-m", "felzenszwalb", "-q", "-o", str(out)]

    assert main(other) == 2
    message = capsys.readouterr().err
    assert "kmeans" in message and "--overwrite" in message
    assert (out / "cells_labels.tif").read_bytes() == before
    assert json.loads((out / "run.json").read_text())["method"] == "kmeans"

    assert main([*other, "--overwrite"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["method"] == "felzenszwalb" and record["counts"]["ok"] == 1
    assert (out / "cells_labels.tif").read_bytes() != before


def test_rerun_with_other_parameters_refuses_too(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", "--sample", "cells", *KMEANS, "-o", str(out)]) == 0
    changed = [a.replace("n_clusters=3", "n_clusters=4") for a in KMEANS]
    assert main(["segment", "--sample", "cells", *changed, "-o", str(out)]) == 2
    assert "n_clusters" in capsys.readouterr().err


def test_evaluate_refuses_an_overlay_png_as_labels(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", "--sample", "cells", *KMEANS, "--overlay", "-o", str(out)]) == 0
    overlay, truth = out / "cells_overlay.png", out / "cells_truth.tif"
    assert main(["evaluate", str(overlay), str(truth)]) == 2
    message = capsys.readouterr().err
    assert "overlay" in message and "cells_labels.tif" in message


def test_sample_with_ground_truth_writes_it_for_evaluate(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", "--sample", "cells", *KMEANS, "-o", str(out)]) == 0
    np.testing.assert_array_equal(read_labels(out / "cells_truth.tif"), cells()[1])
    capsys.readouterr()
    labels, truth = out / "cells_labels.tif", out / "cells_truth.tif"
    assert main(["evaluate", str(labels), str(truth), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_gt"] == len(np.unique(cells()[1]))  # 0 too


def test_main_help_lists_each_command_once():
    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
        main(["--help"])
    for command in ("segment", "evaluate", "bench", "methods"):
        lines = re.findall(rf"^\s+{command}\s", text.getvalue(), re.M)
        assert len(lines) == 1, f"'{command}' is listed {len(lines)} times"
