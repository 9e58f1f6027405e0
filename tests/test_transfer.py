"""Label transfer across domains (issue 20): adversarial output-space adaptation
(Tsai et al. 2018) recovers a shifted target's classes where source-only training
fails; seeded, cancellable, with previews; the source's ids; stacks and lists; bad
input refused with a clear message, the user's arrays untouched.

The domain pair: the ``cells`` sample's scene and classes (background, cytoplasm,
nucleus) as the source; another scene as another microscope shows it (blur, gamma,
lower contrast, more noise) as the target. The answer is known: its classes.
"""

import numpy as np
import pytest
import torch

import napari_unsupseg as us
from napari_unsupseg import InsufficientMemoryError, SegmentationCancelled
from napari_unsupseg.sample_data import cell_classes, cells, cells_other_microscope

#: a short run: enough to exercise every stage, not to learn much
SHORT = {"max_iter": 6, "warmup": 3, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def domain_pair(size=96, n_cells=4):
    source, source_truth = cells(0, (size, size), n_cells)
    target, target_truth = cells_other_microscope(1, (size, size), n_cells)
    return source, cell_classes(source_truth), target, cell_classes(target_truth)


@pytest.fixture(scope="module")
def pair():
    return domain_pair()


@pytest.fixture(scope="module")
def small():
    return domain_pair(size=64, n_cells=2)


def class_miou(found, truth):
    """Mean over the true classes of the IoU with the same id (ids are the source's)."""
    return float(
        np.mean(
            [
                np.sum((found == c) & (truth == c)) / np.sum((found == c) | (truth == c))
                for c in np.unique(truth)
            ]
        )
    )


def test_transfer_recovers_the_targets_classes_where_source_only_training_fails(pair):
    source, classes, target, truth = pair
    run = {"channel_axis": 0, "source_image": source, "source_labels": classes, "device": "cpu"}
    run["max_iter"] = 300  # half the default: enough on this small pair (benchmarks.md)
    adapted = us.segment(target, "transfer", **run)
    alone = us.segment(target, "transfer", lambda_adv=0.0, **run)
    adapted_score, alone_score = class_miou(adapted, truth), class_miou(alone, truth)
    assert adapted_score >= 0.8, (adapted_score, alone_score)
    assert alone_score <= adapted_score - 0.15, (adapted_score, alone_score)


def test_same_seed_same_labels_another_seed_another_network(small):
    source, classes, target, _ = small
    run = {"channel_axis": 0, "source_image": source, "source_labels": classes, **SHORT}
    first = us.segment(target, "transfer", seed=3, **run)
    np.testing.assert_array_equal(first, us.segment(target, "transfer", seed=3, **run))
    logits = []
    for seed in (3, 4):
        events = []
        us.segment(target, "transfer", seed=seed, progress=events.append, **run)
        logits.append([e.loss for e in events if e.stage in ("training", "adapting")])
    assert logits[0] != logits[1]


def test_labels_are_the_source_label_ids(small):
    source, classes, target, _ = small
    ids = np.array([0, 7, 42])[classes]
    found = us.segment(
        target, "transfer", channel_axis=0, source_image=source, source_labels=ids, **SHORT
    )
    assert found.dtype == np.int32 and found.shape == target.shape[1:]
    assert set(np.unique(found)) <= {0, 7, 42}


def test_label_zero_unlabelled_teaches_nothing_and_is_never_given(small):
    source, classes, target, _ = small
    partial = classes + 1
    partial[:, : source.shape[-1] // 2] = 0  # only the left half is annotated
    found = us.segment(
        target,
        "transfer",
        channel_axis=0,
        source_image=source,
        source_labels=partial,
        label_zero="unlabelled",
        **SHORT,
    )
    assert 0 not in np.unique(found)


def test_a_stack_and_a_list_of_images_are_labelled_plane_by_plane(small):
    source, classes, target, _ = small
    stack = np.stack([target, target[:, ::-1]], axis=1)  # (C, Z, Y, X)
    run = {"source_image": source, "source_labels": classes, **SHORT}
    labels = us.segment(stack, "transfer", channel_axis=0, **run)
    assert labels.shape == stack.shape[1:]
    np.testing.assert_array_equal(
        labels[1], us.segment(stack, "transfer", channel_axis=0, **run)[1]
    )
    listed = us.transfer_labels([target, target[:, :40, :48]], channel_axis=0, **run)
    assert [a.shape for a in listed] == [target.shape[1:], (40, 48)]


def test_progress_reports_warmup_adaptation_and_prediction_with_previews(small):
    source, classes, target, _ = small
    events = []
    us.segment(
        target,
        "transfer",
        channel_axis=0,
        source_image=source,
        source_labels=classes + 5,
        progress=events.append,
        **SHORT,
    )
    stages = [e.stage for e in events]
    assert stages[:3] == ["training"] * 3 and stages[3:6] == ["adapting"] * 3
    assert stages[-1] == "predicting" and events[-1].iteration == events[-1].total
    assert [e.iteration for e in events[:6]] == [1, 2, 3, 4, 5, 6]
    previews = [e.labels for e in events if e.labels is not None]
    assert previews and previews[0].shape == target.shape[1:]
    assert set(np.unique(previews[0])) <= {0, 5, 6, 7}  # source ids (0 outside the window)


def test_cancel_stops_training_at_that_iteration_and_returns_nothing(small):
    source, classes, target, _ = small
    seen = []

    def progress(event):
        seen.append(event.iteration)
        return event.iteration == 4

    with pytest.raises(SegmentationCancelled):
        us.segment(
            target,
            "transfer",
            channel_axis=0,
            source_image=source,
            source_labels=classes,
            progress=progress,
            max_iter=1000,
            device="cpu",
        )
    assert seen[-1] == 4
    with pytest.raises(SegmentationCancelled):
        us.transfer_labels(target, source, classes, channel_axis=0, should_stop=lambda: True)


def test_transfer_is_guided_not_listed_among_unsupervised_methods():
    assert "transfer" not in us.available_methods()
    spec = us.get_method("transfer")
    assert spec.guided and spec.uses_torch and "Tsai" in spec.paper


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"source_image": None}, ValueError, "needs source_image and source_labels"),
        ({"source_labels": None}, ValueError, "needs source_image and source_labels"),
        ({"source_labels": "shape"}, ValueError, "source_labels have shape"),
        ({"source_labels": "float"}, TypeError, "integer label image"),
        ({"source_labels": "one class"}, ValueError, "at least two classes"),
        ({"source_image": "grey"}, ValueError, "same channels"),
        ({"target": "tiny"}, ValueError, "at least 32x32"),
        ({"target": []}, ValueError, "list of target images is empty"),
        ({"lambda_adv": -1}, ValueError, "out of range"),
        ({"label_zero": "maybe"}, ValueError, "must be one of"),
    ],
    ids=[
        "no-source-image",
        "no-source-labels",
        "labels-shape",
        "float-labels",
        "one-class",
        "other-channels",
        "tiny-target",
        "empty-list",
        "negative-lambda",
        "unknown-label-zero",
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_changed(small, change, error, words):
    source, classes, target, _ = small
    kept = [a.copy() for a in (source, classes, target)]
    args = {"target": target, "source_image": source, "source_labels": classes}
    variants = {
        "shape": classes[:-1],
        "float": classes.astype(np.float32),
        "one class": np.ones_like(classes),
        "grey": np.concatenate([source, source[:1]]),  # 3 channels, not 2
        "tiny": target[:, :20, :20],
    }
    args.update({k: variants.get(v, v) if isinstance(v, str) else v for k, v in change.items()})
    target_arg = args.pop("target")
    with pytest.raises(error, match=words):
        us.segment(target_arg, "transfer", channel_axis=0, **SHORT, **args)
    for before, after in zip(kept, (source, classes, target), strict=True):
        np.testing.assert_array_equal(before, after)


def test_a_job_too_big_for_the_memory_is_refused_before_it_starts(small, monkeypatch):
    import napari_unsupseg._memory as memory

    source, classes, target, _ = small
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    with pytest.raises(InsufficientMemoryError, match="needs about"):
        us.transfer_labels(target, source, classes, channel_axis=0, **SHORT)


def test_tiled_prediction_equals_one_pass_over_the_whole_plane(monkeypatch):
    from napari_unsupseg.cnn import infer
    from napari_unsupseg.transfer.engine import predict_plane
    from napari_unsupseg.transfer.net import build_segmenter

    segmenter = build_segmenter(2, 3, width=8, seed=0).eval()
    plane = np.random.default_rng(0).random((70, 90, 2), dtype=np.float32)
    with torch.no_grad():
        whole = segmenter(torch.from_numpy(np.moveaxis(plane, -1, 0))[None]).argmax(1)[0]
    monkeypatch.setattr(infer, "TILE_VALUES", 40 * 40 * 8)  # many tiles
    np.testing.assert_array_equal(predict_plane(segmenter, plane, torch.device("cpu")), whole)


def test_discriminator_is_the_papers():
    from torch import nn

    from napari_unsupseg.transfer.net import build_discriminator

    net = build_discriminator(3, width=64)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    relus = [m for m in net if isinstance(m, nn.LeakyReLU)]
    assert len(relus) == 4 and all(r.negative_slope == 0.2 for r in relus)


def test_the_method_page_shows_the_generated_parameter_table():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("figures", root / "scripts/make_figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    text = (root / "docs/methods/transfer.md").read_text()
    assert figures.current_table(text) == figures.param_table("transfer")
    assert "methods/transfer.md" in (root / "docs/index.md").read_text()


def test_segment_series_points_to_the_list_form_of_transfer(small):
    target = small[2]
    with pytest.raises(ValueError, match="transfer_labels with the list"):
        us.segment_series([target, target], "transfer", channel_axis=0)


def test_run_segmentation_gives_transfer_as_segment_does(small):
    """The one entry point the dock calls: the labels are their own classes."""
    from napari_unsupseg._api import run_segmentation

    source, classes, target, _ = small
    run = {"channel_axis": 0, "source_image": source, "source_labels": classes, **SHORT}
    made = run_segmentation([target, target], "transfer", **run)
    expected = us.segment([target, target], "transfer", **run)
    assert made.plan.kind == "classes" and made.classes is made.labels
    for got, want in zip(made.labels, expected, strict=True):
        np.testing.assert_array_equal(got, want)
