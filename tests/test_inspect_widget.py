"""The "Inspect clusters" widget in a real napari viewer (run under Xvfb)."""

from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
from napari.layers import Labels
from skimage.draw import disk
from skimage.measure import label as connected

from napari_unsupseg import label_edits
from napari_unsupseg._widgets.inspect import InspectWidget
from napari_unsupseg.measurements import read_table

SCALE = (0.5, 0.25)


def scene(rng):
    """Label 4: two touching disks; 9: two separate blocks; 2: a bar; a 2-channel image
    (channel axis 0) whose channel 1 grows with the id."""
    labels = np.zeros((40, 70), dtype=np.uint16)
    labels[disk((20, 20), 8.5)] = 4
    labels[disk((20, 35), 8.5)] = 4
    labels[2:8, 55:65] = 9
    labels[30:36, 55:65] = 9
    labels[34:38, 2:30] = 2
    image = rng.normal(100.0, 5.0, (2, *labels.shape)).astype(np.float32)
    image[1] += 10.0 * labels
    return image, labels


@pytest.fixture
def inspected(make_napari_viewer, rng):
    viewer = make_napari_viewer()
    image, labels = scene(rng)
    viewer.add_image(image, name="image", channel_axis=None, scale=SCALE)
    viewer.add_labels(labels, name="clusters", scale=SCALE, metadata={"channel_axis": 0})
    widget = InspectWidget(viewer)
    viewer.window.add_dock_widget(widget, name="inspect")
    before = snapshot(viewer)
    widget.measure()
    return viewer, widget, image, labels, before


def snapshot(viewer):
    return [
        (layer.name, np.array(layer.data, copy=True), dict(layer.metadata))
        for layer in viewer.layers
    ]


def assert_inputs_unchanged(viewer, before):
    for name, data, metadata in before:
        layer = viewer.layers[name]
        assert layer.data.dtype == data.dtype
        assert np.asarray(layer.data).tobytes() == data.tobytes()
        assert layer.metadata == metadata


def test_table_matches_brute_force_and_sorts(inspected):
    viewer, widget, image, labels, before = inspected
    assert widget._image_box.value is viewer.layers["image"]
    target = widget.target
    assert target.name == "clusters edited" and target is viewer.layers[-1]
    assert tuple(target.scale) == SCALE
    rows = {row["label"]: row for row in widget.rows}
    assert sorted(rows) == [2, 4, 9]
    for label, row in rows.items():
        mask = labels == label
        where = np.argwhere(mask)
        assert row["pixels"] == mask.sum()
        assert row["area"] == pytest.approx(mask.sum() * 0.125)
        for c in (0, 1):
            values = image[c][mask].astype(np.float64)
            assert row[f"mean_ch{c}"] == pytest.approx(values.mean(), rel=1e-12)
            assert row[f"std_ch{c}"] == pytest.approx(values.std(), rel=1e-9)
        assert row["pieces"] == connected(mask, connectivity=1).max()
        assert [row["bbox_min_y"], row["bbox_min_x"]] == where.min(axis=0).tolist()
        assert [row["bbox_max_y"], row["bbox_max_x"]] == (where.max(axis=0) + 1).tolist()
    table = widget.table
    assert table.rowCount() == 3 and table.labels_in_order() == [2, 4, 9]
    table.sort_by("pixels", descending=True)
    by_size = sorted(rows, key=lambda i: -rows[i]["pixels"])
    assert table.labels_in_order() == by_size
    table.sort_by("mean_ch1")
    assert table.labels_in_order() == [2, 4, 9]
    assert_inputs_unchanged(viewer, before)


def test_selection_in_table_viewer_and_scatter_stays_in_sync(inspected):
    _, widget, _, labels, _ = inspected
    target = widget.target
    widget.table.sort_by("pixels", descending=True)
    widget.select_labels([9])
    assert target.selected_label == 9 and target.show_selected_label
    assert widget.scatter.points.keys() == {2, 4, 9}

    target.selected_label = 2  # the picker tool of the viewer sets this
    assert widget.table.selected_labels() == [2]

    y, x = np.argwhere(labels == 4)[0]  # a click on a pixel of label 4, in world units
    event = SimpleNamespace(
        position=(y * SCALE[0], x * SCALE[1]), view_direction=None, dims_displayed=[0, 1], button=1
    )
    widget._on_click(target, event)
    assert widget.table.selected_labels() == [4] and target.selected_label == 4

    x9, y9 = widget.scatter.points[9]  # a lasso around label 9's point only
    square = [(x9 - 1e-3, y9 - 1e-3), (x9 + 1e-3, y9 - 1e-3), (x9 + 1e-3, y9 + 1e-3),
              (x9 - 1e-3, y9 + 1e-3)]  # fmt: skip
    assert widget.scatter.select_in_polygon(square) == [9]
    assert widget.table.selected_labels() == [9] and target.selected_label == 9
    widget.select_labels([])
    assert not target.show_selected_label


def test_scatter_axes_are_table_columns_or_principal_components(inspected):
    _, widget, _, _, _ = inspected
    assert (widget._x.value, widget._y.value) == (
        "PC 1 of pixel features",
        "PC 2 of pixel features",
    )
    widget.select_labels([9])  # the layer now draws the others transparent
    widget._x.value, widget._y.value = "pixels", "mean_ch1"
    rows = {row["label"]: row for row in widget.rows}
    assert widget.scatter.points == {i: (r["pixels"], r["mean_ch1"]) for i, r in rows.items()}
    target = widget.target
    target.show_selected_label = False
    expected = [target.get_color(i) for i in widget.scatter.points]
    assert np.allclose(widget.scatter.colours, expected) and widget.scatter.colours[:, 3].min() == 1


def expected_after(edit, labels):
    """What each edit must give on the scene, built by hand."""
    out = labels.astype(np.int32)
    if edit == "merge":
        out[labels == 9] = 2
    elif edit == "split_components":
        out[30:36, 55:65] = 10  # the second block of 9 (same size: the later one)
    elif edit == "split_watershed":
        right = (labels == 4) & (np.arange(labels.shape[1]) > 27.5)
        out[right] = 10
    elif edit == "background":
        out[labels == 4] = 0
    elif edit == "relabel":  # largest first: 4, then 9, then 2
        out = np.choose(np.searchsorted([0, 2, 4, 9], labels), [0, 3, 1, 2]).astype(np.int32)
    return out


@pytest.mark.parametrize(
    ("edit", "ids"),
    [
        ("merge", [2, 9]),
        ("split_components", [9]),
        ("split_watershed", [4]),
        ("background", [4]),
        ("relabel", []),
    ],
)
def test_every_edit_gives_the_expected_labels_and_undo_restores_them(inspected, edit, ids, errors):
    viewer, widget, _, labels, before = inspected
    target = widget.target
    original = np.array(target.data, copy=True)
    if edit == "split_watershed":
        widget._radius_box.value = 8.0 * SCALE[0]  # disks of 8 pixels, in layer units
    widget.select_labels(ids)
    widget.apply(edit)
    assert errors == []
    edited = np.asarray(target.data)
    if edit == "split_watershed":  # the cut between the disks may lean one pixel
        split = edited == 10
        assert np.array_equal((edited == 4) | split, labels == 4)
        assert abs(int(split.sum()) - int((labels == 4).sum()) // 2) < 20
        assert split[20, 35] and edited[20, 20] == 4
        assert np.array_equal(edited[labels != 4], labels[labels != 4])
    else:
        assert np.array_equal(edited, expected_after(edit, labels))
    record = target.metadata["edits"][-1]
    assert record["edit"] == edit and record.get("labels", []) == ids
    assert np.array_equal(label_edits.replay(labels, target.metadata["edits"]), edited)
    assert {row["label"] for row in widget.rows} == set(np.unique(edited)) - {0}

    widget.undo()
    assert target.data.dtype == original.dtype
    assert np.asarray(target.data).tobytes() == original.tobytes()
    assert target.metadata["edits"] == []
    assert_inputs_unchanged(viewer, before)


def test_edits_stack_and_undo_in_order(inspected):
    _, widget, _, labels, _ = inspected
    target = widget.target
    widget.select_labels([9])
    widget.apply("split_components")
    widget.select_labels([2, 10])
    widget.apply("merge")
    widget.apply("relabel")
    assert [r["edit"] for r in target.metadata["edits"]] == ["split_components", "merge", "relabel"]
    widget.measure()  # measuring again keeps the copy, its edits and its undo history
    assert widget.target is target and len(target.metadata["edits"]) == 3
    assert [row["label"] for row in widget.rows] == [1, 2, 3]
    widget.undo()
    widget.undo()
    assert np.array_equal(target.data, expected_after("split_components", labels))
    widget.undo()
    assert np.array_equal(target.data, labels) and target.data.dtype == labels.dtype


def test_edits_refused_clearly_and_change_nothing(inspected, errors):
    _, widget, _, labels, _ = inspected
    widget.select_labels([9])
    widget.apply("merge")
    assert errors and "at least 2" in errors[-1]
    assert np.array_equal(widget.target.data, labels) and widget.target.metadata["edits"] == []


def test_csv_and_tiff_export_round_trip(inspected, tmp_path):
    _, widget, _, _, _ = inspected
    widget.select_labels([4])
    widget.apply("background")
    assert read_table(widget.export_csv(tmp_path / "table.csv")) == widget.rows
    tiff, table = widget.export_tiff(tmp_path / "edited.tif")
    assert np.array_equal(tifffile.imread(tiff), widget.target.data)
    assert table == tmp_path / "edited.csv" and read_table(table) == widget.rows


def test_a_picked_image_of_another_shape_is_refused(make_napari_viewer, rng, errors):
    viewer = make_napari_viewer()
    viewer.add_image(rng.random((10, 10)), name="other")
    viewer.add_labels(np.ones((12, 12), dtype=np.int32), name="labels")
    widget = InspectWidget(viewer)
    widget._image_box.value = viewer.layers["other"]
    widget.measure()
    assert errors and "do not cover the same pixels" in errors[-1]
    assert len(viewer.layers) == 2 and widget.target is None
    assert not any(
        isinstance(layer, Labels) and layer.name.endswith("edited") for layer in viewer.layers
    )


def test_a_lasso_drawn_with_the_mouse_selects_the_labels_inside(inspected):
    from matplotlib.backend_bases import MouseEvent

    _, widget, _, _, _ = inspected
    widget._x.value, widget._y.value = "pixels", "mean_ch1"
    scatter = widget.scatter
    canvas, axes = scatter.canvas, scatter.axes
    canvas.draw()
    points = scatter.points
    assert points[2][1] < min(points[4][1], points[9][1])  # channel 1 grows with the id
    (x_low, x_high), (_, y_high) = axes.get_xlim(), axes.get_ylim()
    margin = (x_high - x_low) / 100
    cut = (points[2][1] + min(points[4][1], points[9][1])) / 2
    corners = [(x_low + margin, cut), (x_high - margin, cut), (x_high - margin, y_high - 1e-3)]
    corners.append((x_low + margin, y_high - 1e-3))  # a loop around 4 and 9, not 2
    pixels = [axes.transData.transform(corner) for corner in corners]
    MouseEvent("button_press_event", canvas, *pixels[0], button=1)._process()
    for px, py in [*pixels[1:], pixels[0]]:
        MouseEvent("motion_notify_event", canvas, px, py, button=1)._process()
    MouseEvent("button_release_event", canvas, *pixels[0], button=1)._process()
    assert widget.table.selected_labels() == [4, 9]


def test_labels_of_a_run_find_their_image_and_channels(make_napari_viewer):
    import napari_unsupseg as us

    viewer = make_napari_viewer()
    viewer.open_sample("napari-unsupseg", "cells")
    image = viewer.layers["cells (2 channels)"]
    classes = us.segment(image.data, "kmeans", channel_axis=0, n_clusters=3, output="classes")
    record = {"created_by": "napari-unsupseg", "source_layer": image.name, "channel_axis": 0}
    viewer.add_labels(classes, name="cells kmeans", metadata=record)
    widget = InspectWidget(viewer)
    assert widget._labels.value is viewer.layers["cells kmeans"]
    assert widget._image_box.value is image
    widget.measure()
    rows = widget.rows
    assert [row["label"] for row in rows] == [1, 2, 3]
    assert sum(row["pixels"] for row in rows) == classes.size
    for row in rows:
        mask = classes == row["label"]
        assert row["mean_ch1"] == pytest.approx(image.data[1][mask].mean())
    assert max(row["pieces"] for row in rows) > 1  # classes lie in many places


def test_a_stack_without_image_moves_the_sliders_to_the_selected_label(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    labels = np.zeros((6, 20, 20), dtype=np.int32)
    labels[4, 5:9, 5:9] = 3
    labels[1:3, 12:18, 12:18] = 8
    viewer.add_labels(labels, name="stack", scale=(2.0, 0.5, 0.5))
    widget = InspectWidget(viewer)
    assert widget._image_box.value is None
    widget.measure()
    rows = {row["label"]: row for row in widget.rows}
    assert rows[3]["volume"] == pytest.approx(16 * 0.5) and "mean" not in rows[3]
    assert rows[8]["bbox_min_z"] == 1 and rows[8]["bbox_max_z"] == 3
    assert (widget._x.value, widget._y.value) == ("volume", "pieces")
    widget.select_labels([3])
    assert viewer.dims.point[0] == pytest.approx(4 * 2.0)
    target = widget.target
    target.paint((4, 6, 6), 8, refresh=True)  # painting by hand: the table follows
    painted = int((np.asarray(target.data) == 8).sum())
    assert painted > rows[8]["pixels"]
    qtbot.waitUntil(lambda: {r["label"]: r["pixels"] for r in widget.rows}[8] == painted)
    assert target.metadata["edits"] == []


def test_closing_the_dock_lets_go_of_the_edited_layer(inspected, qtbot):
    viewer, widget, _, _, _ = inspected
    target = widget.target
    from qtpy.QtCore import QCoreApplication, QEvent

    viewer.window.remove_dock_widget("all")
    widget.native.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    qtbot.waitUntil(lambda: widget._on_click not in target.mouse_drag_callbacks)
    target.selected_label = 9  # no callback into the deleted dock
    viewer.add_labels(np.zeros((4, 4), dtype=np.int32), name="later")


def test_a_constant_image_is_measured_without_principal_components(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.full((2, 12, 12), 7.0), name="flat")
    labels = np.zeros((12, 12), dtype=np.int32)
    labels[2:5, 2:5], labels[7:10, 7:10] = 1, 2
    viewer.add_labels(labels, name="two")
    widget = InspectWidget(viewer)
    widget.measure()
    assert [row["mean_ch1"] for row in widget.rows] == [7.0, 7.0]
    assert widget._x.value == "PC 1 of pixel features"
    assert all(np.isnan(x) for x, _ in widget.scatter.points.values())
