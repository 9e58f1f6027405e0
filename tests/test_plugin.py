"""The plugin as napari sees it: manifest, widgets, samples, start-up cost."""

import subprocess
import sys

import npe2
import pytest

import napari_unsupseg

MANIFEST = npe2.PluginManifest.from_distribution("napari-unsupseg")


def test_import_does_not_load_torch_or_qt():
    code = (
        "import sys, napari_unsupseg;"
        "heavy = [m for m in ('torch', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'napari')"
        " if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_available_methods_lists_every_seed_method():
    names = set(napari_unsupseg.available_methods())
    expected = {"kmeans", "gmm", "felzenszwalb", "gmm+kmeans"}
    assert expected <= names


@pytest.mark.parametrize("sample", MANIFEST.contributions.sample_data, ids=lambda s: s.key)
def test_every_sample_loads_in_viewer(make_napari_viewer, sample):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-unsupseg", sample.key)
    assert len(viewer.layers) >= 1
