"""``unsupseg transfer``: the command line runs what ``segment(..., "transfer")`` runs,
on real files, and refuses bad input with a message and the usage exit code."""

import numpy as np
import tifffile

import napari_unsupseg as us
from napari_unsupseg.cli import main
from napari_unsupseg.io import read_labels
from napari_unsupseg.sample_data import cell_classes, cells, cells_other_microscope

SHORT = ["--param", "max_iter=4", "--param", "warmup=2", "--device", "cpu"]


def write_pair(folder):
    source, truth = cells(0, (64, 64), 2)
    target, _ = cells_other_microscope(1, (64, 56), 2)
    paths = {name: folder / f"{name}.tif" for name in ("source", "labels", "target")}
    tifffile.imwrite(paths["source"], source)
    tifffile.imwrite(paths["labels"], cell_classes(truth).astype(np.uint16))
    tifffile.imwrite(paths["target"], target)
    return paths, source, cell_classes(truth), target


def test_the_command_writes_what_the_api_gives(tmp_path, capsys):
    paths, source, classes, target = write_pair(tmp_path)
    argv = ["transfer", str(paths["source"]), str(paths["labels"]), str(paths["target"])]
    code = main([*argv, "-o", str(tmp_path / "out"), "--channel-axis", "0", "-q", *SHORT])

    assert code == 0, capsys.readouterr().err
    written = read_labels(tmp_path / "out" / "target_labels.tif")
    expected = us.segment(
        [target], "transfer", source_image=source, source_labels=classes, channel_axis=0,
        device="cpu", max_iter=4, warmup=2,
    )[0]  # fmt: skip
    np.testing.assert_array_equal(written, expected)
    assert set(np.unique(written)) <= set(np.unique(classes))
    assert "1 target(s) labelled" in capsys.readouterr().out


def test_bad_input_gets_a_message_and_the_usage_code(tmp_path, capsys):
    paths, *_ = write_pair(tmp_path)
    source, target = str(paths["source"]), str(paths["target"])
    out = str(tmp_path / "o")
    missing = main(["transfer", source, str(tmp_path / "nope.tif"), target, "-o", out, "-q"])
    assert missing == 2 and "nope.tif" in capsys.readouterr().err

    other = tmp_path / "other"
    other.mkdir()
    twin = other / "target.tif"
    twin.write_bytes(paths["target"].read_bytes())
    clash = main(["transfer", source, str(paths["labels"]), target, str(twin), "-o", out, "-q"])
    assert clash == 2 and "same file name" in capsys.readouterr().err

    unknown = main(["transfer", source, str(paths["labels"]), target, "-o", out, "--param", "k=3"])
    assert unknown == 2 and "no parameter 'k'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
