"""The front ends share one of each piece: the batch run a script calls is the one the
CLI calls, one K=V parser, one CSV writer, one pooling of mIoU All/Fine/Coarse, one
provenance record; and the engines import no front end."""

import ast
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import napari_unsupseg
from napari_unsupseg import _csv
from napari_unsupseg._provenance import Provenance
from napari_unsupseg.batch import BatchSettings, BatchUsageError, segment_batch
from napari_unsupseg.bench import parse_method_spec, pool
from napari_unsupseg.cli import main, parse_params
from napari_unsupseg.evaluation import best_match_ious, evaluate, pool_best_ious, write_csv
from napari_unsupseg.io import read_labels
from synthetic import noisy_blocks

PACKAGE = Path(napari_unsupseg.__file__).parent
KMEANS = {"n_clusters": 3, "max_samples": 500}


def _images(folder: Path) -> Path:
    folder.mkdir()
    for index in range(2):
        iio.imwrite(folder / f"img{index}.png", noisy_blocks((24, 24), seed=index)[0])
    return folder


def test_segment_batch_from_python_is_what_the_cli_runs(tmp_path):
    images = _images(tmp_path / "in")
    settings = BatchSettings(method="kmeans", params=KMEANS)
    outcome = segment_batch([images], tmp_path / "py", settings, progress=False, command=["me"])
    assert outcome.counts == {"ok": 2, "failed": 0, "skipped": 0}
    assert not outcome.interrupted
    record = json.loads((tmp_path / "py" / "run.json").read_text())
    assert record["command"] == ["me"]
    assert record["version"] == napari_unsupseg.__version__
    assert {"host", "python", "platform", "started", "seconds"} <= set(record)
    assert record["scheduler"] == "serial"

    argv = ["segment", str(images), "-o", str(tmp_path / "cli"), "-m", "kmeans", "-q"]
    assert main([*argv, "--param", "n_clusters=3", "--param", "max_samples=500"]) == 0
    for name in ("img0_labels.tif", "img1_labels.tif"):
        np.testing.assert_array_equal(
            read_labels(tmp_path / "py" / name), read_labels(tmp_path / "cli" / name)
        )

    again = segment_batch([images], tmp_path / "py", settings, progress=False)
    assert again.counts == {"ok": 0, "failed": 0, "skipped": 2}
    other = BatchSettings(method="kmeans", params={**KMEANS, "n_clusters": 4})
    with pytest.raises(BatchUsageError, match="another run"):
        segment_batch([images], tmp_path / "py", other, progress=False)
    with pytest.raises(BatchUsageError, match="no such file"):
        segment_batch([tmp_path / "missing"], tmp_path / "x", settings, progress=False)


def test_one_key_value_parser_for_segment_and_bench():
    assert (
        parse_params("kmeans", ["n_clusters=4"]) == parse_method_spec("kmeans:n_clusters=4").params
    )
    with pytest.raises(ValueError, match=r"^--param expects KEY=VALUE, got 'n_clusters'$"):
        parse_params("kmeans", ["n_clusters"])
    with pytest.raises(ValueError, match=r"^method spec 'kmeans:4': expected KEY=VALUE, got '4'$"):
        parse_method_spec("kmeans:4")
    for parse in (
        lambda: parse_params("kmeans", ["bogus=1"]),
        lambda: parse_method_spec("kmeans:bogus=1"),
    ):
        with pytest.raises(ValueError, match="has no parameter 'bogus'"):
            parse()


def test_pooling_of_one_image_is_evaluates(rng):
    labels = rng.integers(0, 4, (20, 20))
    truth = np.stack([rng.integers(0, k, (20, 20)) for k in (2, 5, 3)])
    pooled = pool_best_ious([best_match_ious(labels, truth)])
    scores = evaluate(labels, truth)
    assert pooled == {
        "miou_all": scores["miou"],
        "miou_fine": scores["miou_fine"],
        "miou_coarse": scores["miou_coarse"],
    }
    assert pool is pool_best_ious


def test_one_csv_writer_two_line_endings(tmp_path):
    path = write_csv(tmp_path / "m.csv", {"miou": 0.5, "n_gt": 3})
    assert path.read_bytes() == b"metric,value\r\nmiou,0.5\r\nn_gt,3\r\n"
    rows = [{"a": 1, "b": "x,y"}, {"a": 2, "extra": "left out"}]
    assert _csv.csv_text(rows, ["a", "b"]) == 'a,b\n1,"x,y"\n2,\n'


def test_provenance_describes_the_machine():
    provenance = Provenance.now(["unsupseg", "bench"])
    text = provenance.machine_description()
    assert f"Python {provenance.python}" in text
    assert text.endswith(f"napari-unsupseg {napari_unsupseg.__version__}")
    assert set(provenance.machine_fields()) == {"host", "python", "platform"}


FRONT_ENDS = {"cli", "_commands", "batch", "bench", "bench_report", "_api", "_widgets"}
FRONT_ENDS |= {"_batch_plan", "_batch_record", "_batch_bars", "_cluster"}


def _imported_modules(path: Path) -> set[str]:
    """Top-level package modules that ``path`` imports (relative or absolute), anywhere
    in it (imports inside functions too)."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add([*base, *node.module.split(".")][0])
            else:
                found |= {[*base, alias.name][0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found |= {n.split(".")[1] for n in names if n.startswith("napari_unsupseg.")}
    return found


def test_the_import_reader_sees_relative_absolute_and_late_imports():
    assert "_commands" in _imported_modules(PACKAGE / "cli.py")
    bench = _imported_modules(PACKAGE / "bench.py")
    assert {"_csv", "_params_text", "io", "evaluation", "_registry", "textbook"} <= bench
    assert {"_params_text", "_threads", "io"} <= _imported_modules(
        PACKAGE / "_commands" / "common.py"
    )
    assert {"_commands", "batch", "chunked"} <= _imported_modules(
        PACKAGE / "_commands" / "segment.py"
    )


@pytest.mark.parametrize(
    "engine", ["evaluation", "measurements.py", "io.py", "label_edits.py", "_csv.py"]
)
def test_engines_import_no_front_end(engine):
    files = (
        sorted((PACKAGE / engine).rglob("*.py"))
        if (PACKAGE / engine).is_dir()
        else [PACKAGE / engine]
    )
    for path in files:
        assert not _imported_modules(path) & FRONT_ENDS, path
