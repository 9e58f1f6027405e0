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


@pytest.mark.parametrize("widget", MANIFEST.contributions.widgets, ids=lambda w: w.display_name)
def test_every_widget_opens_in_viewer(make_napari_viewer, widget):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-unsupseg", "cells")
    dock, instance = viewer.window.add_plugin_dock_widget("napari-unsupseg", widget.display_name)
    assert widget.display_name in dock.name
    assert dock.isAncestorOf(instance.native)


def test_widgets_sit_in_the_segment_and_measure_menus():
    menus = MANIFEST.contributions.menus
    segment = [item.command for item in menus["napari/layers/segment"]]
    measure = [item.command for item in menus["napari/layers/measure"]]
    assert segment == ["napari-unsupseg.segment_widget", "napari-unsupseg.transfer_widget"]
    assert measure == ["napari-unsupseg.evaluate_widget", "napari-unsupseg.inspect_widget"]


def test_a_sample_too_small_for_its_cells_says_so():
    from napari_unsupseg.sample_data import cells_3d

    with pytest.raises(ValueError, match="too small"):
        cells_3d(shape=(8, 48, 48))
