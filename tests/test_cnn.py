"""The segmentation engine (issue 3): every method recovers known answers, seeded,
cancellable, with scribbles; and the CNN methods are the papers' algorithms.

The papers' pieces (network, losses, refinement, weights, stopping rules, tiling) are
checked against straightforward reference code written here. Stacks, time series
and lists of images are in ``test_stacks.py``.
"""

import copy

import numpy as np
import pytest
import torch

import napari_unsupseg as us
from napari_unsupseg import SegmentationCancelled
from synthetic import COLOURS, best_match_miou, noisy_blocks


def segment(image, method="cnn", **kwargs):
    """``us.segment`` asked for classes: these tests are about the engines' classes."""
    return us.segment(image, method, **{"output": "classes", **kwargs})


pytestmark = pytest.mark.usefixtures("one_torch_thread")


#: Settings that make each method quick on a 48x48 image of four noisy colours.
#: The CNNs get 16 channels and at most 100-200 iterations; where the papers'
#: continuity weight leaves the 4 colours split into more labels in so few
#: iterations, a stronger weight (Kim et al.'s batch script uses 5) is passed.
QUICK = {
    "cnn": {"n_channels": 16, "max_iter": 100, "min_labels": 4, "p": 4.0},
    "kmeans": {"n_clusters": 4},
    "gmm": {"n_components": 4},
    "felzenszwalb": {"scale": 500, "sigma": 0.8, "min_size": 100},
    "cnn-superpixel": {
        "n_channels": 16,
        "max_iter": 100,
        "min_labels": 4,
        "n_superpixels": 100,
        "compactness": 20.0,
    },
    "cnn-continuity": {
        "n_channels": 16,
        "max_iter": 100,
        "min_labels": 4,
        "continuity_weight": 5.0,
    },
    "cnn-fsf": {"n_channels": 16, "max_iter": 100, "min_labels": 4, "p": 4.0},
    "cnn-scf": {"n_channels": 16, "max_iter": 100, "min_labels": 4},
    "cnn+kmeans": {"n_channels": 16, "max_iter": 100, "min_labels": 4, "n_clusters": 4},
    "gmm+kmeans": {"n_components": 8, "n_clusters": 4},
    "iic": {"n_clusters": 4, "n_layers": 2, "width": 32, "max_iter": 40},
    "wnet": {"n_classes": 4, "max_iter": 20},
    "dic": {"max_iter": 20},
}
CNN_METHODS = [name for name, spec in us.available_methods().items() if spec.uses_torch]


def assert_numbered_largest_first(labels, shape):
    assert labels.dtype == np.int32
    assert labels.shape == shape
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1))
    counts = np.bincount(labels.ravel())[1:]
    assert np.all(np.diff(counts) <= 0), counts


def test_every_method_has_quick_settings_here():
    assert set(QUICK) == set(us.available_methods())


# --- known answers ---------------------------------------------------------------


@pytest.mark.parametrize("method", list(QUICK))
def test_every_method_recovers_noisy_colour_blocks(method):
    image, truth = noisy_blocks(shape=(48, 48))
    labels = segment(image, method, seed=0, **QUICK[method])
    assert_numbered_largest_first(labels, truth.shape)
    assert best_match_miou(labels, truth) >= 0.9


def textured_blocks(shape=(48, 48), amplitude=30.0, noise=8.0, seed=0):
    """Four quadrants, each its own colour and its own texture (stripes, checks) of
    +-``amplitude`` grey levels, with Gaussian noise: uint8 RGB and truth 1..4."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, dtype=np.int32)
    h, w = shape[0] // 2, shape[1] // 2
    truth[:h, :w], truth[:h, w:], truth[h:, :w], truth[h:, w:] = 1, 2, 3, 4
    yy, xx = np.indices(shape)
    patterns = [(yy // 2) % 2, (xx // 2) % 2, (yy + xx) % 2, (yy // 3 + xx // 3) % 2]
    texture = np.choose(truth - 1, patterns) * 2.0 - 1.0
    image = COLOURS[truth - 1] + amplitude * texture[..., None]
    image += rng.normal(0, noise, (*shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def test_cnn_keeps_textured_noisy_regions_whole():
    image, truth = textured_blocks()
    labels = segment(image, "cnn-scf", seed=0, **QUICK["cnn-scf"])
    assert best_match_miou(labels, truth) >= 0.9


def test_sixteen_bit_two_channel_fluorescence_as_good_as_eight_bit():
    from napari_unsupseg.sample_data import cells

    image, truth = cells(shape=(64, 64), n_cells=4)  # (2, Y, X) uint16
    eight_bit = (image / image.max() * 255).astype(np.uint8)
    params = {"n_channels": 16, "max_iter": 100, "min_labels": 3, "continuity_weight": 5.0}
    s16 = best_match_miou(segment(image, "cnn-continuity", channel_axis=0, **params), truth)
    s8 = best_match_miou(segment(eight_bit, "cnn-continuity", channel_axis=0, **params), truth)
    assert s16 >= 0.9 and s8 >= 0.9
    assert abs(s16 - s8) <= 0.05


# --- seeds ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(QUICK))
def test_same_seed_gives_identical_labels(method):
    image, _ = noisy_blocks(shape=(48, 48), seed=3)
    params = {**QUICK[method], **({"max_iter": 30} if "max_iter" in QUICK[method] else {})}
    first = segment(image, method, seed=7, **params)
    second = segment(image, method, seed=7, **params)
    np.testing.assert_array_equal(first, second)


def test_another_seed_gives_another_network():
    image, _ = noisy_blocks(shape=(48, 48))
    params = {"n_channels": 16, "max_iter": 1, "min_labels": 0}
    first = segment(image, "cnn-continuity", seed=0, **params)
    second = segment(image, "cnn-continuity", seed=1, **params)
    assert not np.array_equal(first, second)


# --- scribbles -----------------------------------------------------------------------


def two_close_shades(shape=(48, 48), delta=8.0, noise=3.0, seed=0):
    """Left and right halves of two grey shades only ``delta`` apart (of 255)."""
    rng = np.random.default_rng(seed)
    truth = np.where(np.indices(shape)[1] < shape[1] // 2, 1, 2).astype(np.int32)
    grey = np.where(truth == 1, 120.0, 120.0 + delta)
    image = grey[..., None] + rng.normal(0, noise, (*shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def majority(labels, mask):
    return int(np.bincount(labels[mask]).argmax())


def test_one_scribble_per_region_separates_regions_that_otherwise_merge():
    image, truth = two_close_shades()
    left, right = truth == 1, truth == 2
    params = {"n_channels": 16, "max_iter": 200, "continuity_weight": 5.0}
    plain = segment(image, "cnn-continuity", seed=0, **params)
    assert majority(plain, left) == majority(plain, right)  # one region

    scribbles = np.zeros(truth.shape, dtype=np.int32)
    scribbles[10:38, 8] = 3  # one vertical stroke in each half; any positive ids
    scribbles[10:38, 40] = 7
    guided = segment(image, "cnn-continuity", seed=0, scribbles=scribbles, **params)
    assert majority(guided, left) != majority(guided, right)
    assert np.all(guided[scribbles == 3] == majority(guided, left))
    assert np.all(guided[scribbles == 7] == majority(guided, right))
    for half in (left, right):  # each half is (nearly all) its own label
        assert np.mean(guided[half] == majority(guided, half)) >= 0.8


# --- progress and cancellation ---------------------------------------------------------


@pytest.mark.parametrize("method", CNN_METHODS)
def test_progress_asking_to_stop_ends_the_run_at_that_iteration(method):
    image, _ = noisy_blocks(shape=(48, 48))
    seen = []

    def progress(event):
        seen.append(event.iteration)
        return event.iteration == 3

    never = {"min_labels": 0} if "min_labels" in us.available_methods()[method].defaults else {}
    with pytest.raises(SegmentationCancelled):
        segment(image, method, progress=progress, **{**QUICK[method], **never})
    assert seen == [1, 2, 3]


def test_should_stop_ends_the_run_within_one_iteration():
    image, _ = noisy_blocks(shape=(48, 48))
    asked = {"stop": False}
    seen = []

    def progress(event):
        seen.append(event.iteration)
        asked["stop"] = event.iteration == 3

    params = {**QUICK["cnn"], "min_labels": 0, "patience": 0}
    with pytest.raises(SegmentationCancelled):
        segment(image, "cnn", progress=progress, should_stop=lambda: asked["stop"], **params)
    assert seen == [1, 2, 3]


def test_should_stop_before_the_start_runs_nothing():
    image, _ = noisy_blocks(shape=(48, 48))
    seen = []
    with pytest.raises(SegmentationCancelled):
        segment(image, "cnn", progress=seen.append, should_stop=lambda: True)
    assert seen == []


def test_progress_reports_iteration_label_count_loss_and_previews():
    image, _ = noisy_blocks(shape=(48, 40))
    events = []
    segment(
        image, "cnn-continuity", n_channels=16, max_iter=12, min_labels=0, progress=events.append
    )
    assert [e.iteration for e in events] == list(range(1, 13))
    assert all(e.total == 12 for e in events)
    assert all(isinstance(e.n_labels, int) and 1 <= e.n_labels <= 16 for e in events)
    assert all(isinstance(e.loss, float) and np.isfinite(e.loss) for e in events)
    previews = [e.labels for e in events if e.labels is not None]
    assert previews, "the first event carries a preview"
    for preview in previews:
        assert_numbered_largest_first(preview, (48, 40))


# --- the papers' algorithms, piece by piece ---------------------------------------------


def test_network_is_the_papers_layout_with_about_104k_weights():
    from torch import nn

    from napari_unsupseg.cnn.net import build_net

    net = build_net(3, n_channels=100, n_conv=2)
    kinds = [type(layer) for layer in net]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d] * 2 + [nn.Conv2d, nn.BatchNorm2d]
    convs = [layer for layer in net if isinstance(layer, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (3, 100, (3, 3), (1, 1)),
        (100, 100, (3, 3), (1, 1)),
        (100, 100, (1, 1), (0, 0)),
    ]
    # conv1 2800 + bn 200 + conv2 90100 + bn 200 + conv3 10100 + bn 200
    assert sum(p.numel() for p in net.parameters()) == 103_600

    deeper = build_net(3, n_channels=100, n_conv=3)
    assert len(deeper) == len(net) + 3
    volume = build_net(2, n_channels=8, ndim=3)
    assert isinstance(volume[0], nn.Conv3d) and isinstance(volume[-1], nn.BatchNorm3d)
    x = torch.rand(1, 3, 20, 30)
    assert net(x).shape == (1, 100, 20, 30)  # no pooling: the image's size


def test_same_seed_same_weights_whatever_ran_before():
    from napari_unsupseg.cnn.net import build_net

    first = build_net(3, 8, seed=5)
    torch.rand(100)  # disturb the global generator
    second = build_net(3, 8, seed=5)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def continuity_only(response):
    """The loss's continuity term alone: similarity weight 0, continuity weight 1."""
    from napari_unsupseg.cnn.losses import self_training_loss

    target = response.detach().argmax(dim=1)
    return self_training_loss(response, target, similarity_weight=0.0, continuity_weight=1.0)


def test_continuity_term_is_mean_abs_difference_of_vertical_and_horizontal_neighbours():
    r = np.random.default_rng(0).normal(size=(1, 5, 7, 9))
    expected = np.mean(np.abs(r[:, :, 1:, :] - r[:, :, :-1, :])) + np.mean(
        np.abs(r[:, :, :, 1:] - r[:, :, :, :-1])
    )
    assert float(continuity_only(torch.from_numpy(r))) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "shape", [(1, 5, 7, 9), (2, 3, 4, 5, 6), (1, 4, 1, 8)], ids=["2d", "3d", "one-row"]
)
@pytest.mark.parametrize("channels_last", [False, True], ids=["default", "channels-last"])
def test_continuity_gradient_equals_autograds(shape, channels_last):
    """The hand-written backward gives autograd's gradient of the one-line definition."""
    from napari_unsupseg.cnn.net import channels_last as to_channels_last

    r = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    if channels_last:
        r = to_channels_last(r)
    ours = r.clone().requires_grad_(True)
    reference = r.clone().requires_grad_(True)
    expected = sum(
        (reference.narrow(d, 1, n - 1) - reference.narrow(d, 0, n - 1)).abs().mean()
        for d, n in enumerate(reference.shape)
        if d >= 2 and n > 1
    )
    (3 * continuity_only(ours)).backward()
    (3 * expected).backward()
    assert torch.allclose(ours.grad, reference.grad, atol=1e-12)


def _reference_loss(response, target, scribbles, continuity_weight):
    """The papers' loss written plainly with autograd (Kim et al.'s demo): 0.5 x CE on
    scribbled pixels + CE against the target on the others, each a mean over its own
    pixels, + weight x mean |neighbour differences| per spatial axis."""
    from napari_unsupseg.cnn.losses import IGNORE

    channels = response.shape[1]
    flat = response.movedim(1, -1).reshape(-1, channels)
    log_p = torch.log_softmax(flat, dim=1)
    target, scribbles = target.reshape(-1), scribbles.reshape(-1)
    drawn = scribbles != IGNORE
    rows = torch.arange(len(target))
    loss = response.new_zeros(())
    if drawn.any():
        loss = loss - 0.5 * log_p[rows[drawn], scribbles[drawn]].mean()
    if (~drawn).any():
        loss = loss - log_p[rows[~drawn], target[~drawn]].mean()
    continuity = sum(
        (response.narrow(d, 1, n - 1) - response.narrow(d, 0, n - 1)).abs().mean()
        for d, n in enumerate(response.shape)
        if d >= 2 and n > 1
    )
    return loss + continuity_weight * continuity


@pytest.mark.parametrize("shape", [(1, 4, 6, 5), (2, 3, 3, 4, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["default", "channels-last"])
@pytest.mark.parametrize("drawn", ["none", "empty", "some", "all"])
@pytest.mark.parametrize("weight", [0.0, 2.5, "tensor"])
def test_self_training_loss_and_gradient_equal_the_papers_formula(
    shape, channels_last, drawn, weight
):
    """The fused loss (one gradient buffer, written by hand) gives the value and the
    gradient of the plain formula, with and without scribbles, in both layouts.
    "empty": a scribble map with nothing drawn in this batch (a reference-mode batch
    of planes the user did not draw on) is plain self-training, not 0/0."""
    from napari_unsupseg.cnn.losses import IGNORE, self_training_loss
    from napari_unsupseg.cnn.net import channels_last as to_channels_last

    generator = torch.Generator().manual_seed(0)
    r = torch.randn(shape, dtype=torch.float64, generator=generator)
    if channels_last:
        r = to_channels_last(r)
    target = r.argmax(dim=1)
    scribbles = torch.full(target.shape, IGNORE)
    if drawn == "some":
        scribbles.view(-1)[::3] = 1
    elif drawn == "all":
        scribbles[:] = 2
    if weight == "tensor":
        weight = torch.tensor(6) / 15.0  # fsf: q / p, as the engine passes it
    ours = r.clone().requires_grad_(True)
    reference = r.clone().requires_grad_(True)
    loss = self_training_loss(ours, target, None if drawn == "none" else scribbles,
                              continuity_weight=weight)  # fmt: skip
    expected = _reference_loss(reference, target, scribbles, weight)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    (3 * loss).backward()
    (3 * expected).backward()
    assert torch.allclose(ours.grad, reference.grad, atol=1e-12)
    if channels_last:  # the engine's layout, kept for the backward of the layers below
        assert ours.grad.movedim(1, -1).is_contiguous()


def test_self_training_loss_passes_gradcheck():
    from napari_unsupseg.cnn.losses import self_training_loss

    r = torch.randn(1, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    target = r.argmax(dim=1)
    assert torch.autograd.gradcheck(
        lambda x: self_training_loss(x, target, continuity_weight=0.7),
        (r.clone().requires_grad_(True),),
    )


def test_dynamic_weights_fsf_is_q_over_p_and_scf_is_p_over_q():
    from napari_unsupseg.cnn.losses import continuity_weight

    q = torch.tensor(6)
    assert float(continuity_weight("fsf", q, p=15.0)) == pytest.approx(6 / 15)
    assert float(continuity_weight("scf", q, p=50.0)) == pytest.approx(50 / 6)
    assert continuity_weight("fixed", q, fixed=5.0) == 5.0
    assert continuity_weight("none", q) == 0.0


@pytest.mark.parametrize(
    ("weighting", "weight"),
    [("fixed", lambda q: 1.0), ("fsf", lambda q: q / 15), ("scf", lambda q: 15 / q)],
)
def test_training_step_loss_is_similarity_plus_weighted_continuity(weighting, weight):
    from napari_unsupseg.cnn.net import build_net
    from napari_unsupseg.cnn.train import make_optimizer, train_step

    x = torch.rand(1, 3, 12, 10)
    net = build_net(3, 8, seed=2).train()
    reference = copy.deepcopy(net)
    r = reference(x).detach().double().numpy()[0]  # (C, Y, X)
    labels = r.argmax(axis=0)
    q = len(np.unique(labels))
    log_p = r - np.log(np.exp(r).sum(axis=0))
    similarity = -np.mean(np.take_along_axis(log_p, labels[None], axis=0))
    continuity = np.mean(np.abs(np.diff(r, axis=1))) + np.mean(np.abs(np.diff(r, axis=2)))

    config = kim_config(weighting=weighting, p=15.0)
    target, n_labels, loss = train_step(net, make_optimizer(net), x, config)
    assert int(n_labels) == q
    np.testing.assert_array_equal(target[0].numpy(), labels)
    assert float(loss) == pytest.approx(similarity + weight(q) * continuity, rel=1e-5)


def test_superpixel_refinement_equals_the_authors_loop():
    from napari_unsupseg.superpixels import superpixel_mode

    rng = np.random.default_rng(0)
    n_classes, n_superpixels = 6, 40
    target = rng.integers(0, n_classes, size=(30, 20))
    superpixels = rng.integers(0, n_superpixels, size=(30, 20))

    expected = target.copy()  # Kanezaki's loop over superpixels
    for sp in range(n_superpixels):
        inside = np.where(superpixels.ravel() == sp)[0]
        labels_per_sp = target.ravel()[inside]
        u_labels = np.unique(labels_per_sp)
        hist = np.array([np.sum(labels_per_sp == u) for u in u_labels])
        expected.ravel()[inside] = u_labels[np.argmax(hist)]

    refined = superpixel_mode(
        torch.from_numpy(target), torch.from_numpy(superpixels), n_superpixels, n_classes
    )
    np.testing.assert_array_equal(refined.numpy(), expected)


def test_merge_joins_lookalike_superpixels_and_keeps_colour_edges_and_label_splits():
    """Six 4x4 superpixels in a row. 0-1: same grey, same label: joined. 1|2: same
    label but a clear grey step: kept apart (the mode cleanup would join them). 2-3:
    same grey, labels half shared: joined. 3|4: same grey, labelled wholly apart:
    kept apart (the mismatch alone costs label_weight >= threshold). 4-5: grey a bit
    apart, same label: joined."""
    from napari_unsupseg.superpixels import merge_superpixels, mode_per_superpixel

    superpixels = np.repeat(np.arange(6), 4)[None].repeat(4, axis=0)
    grey = np.array([0.2, 0.2, 0.6, 0.6, 0.6, 0.65])[superpixels]
    labels = np.array([1, 1, 1, 1, 2, 2])[superpixels]
    labels[:2, 12:16] = 3  # superpixel 3: half label 1, half label 3
    features = grey[..., None].astype(np.float32)

    regions = merge_superpixels(labels, superpixels, 6, features, 16.0, 25.0)
    region_of = regions[0, ::4]
    assert region_of[0] == region_of[1] != region_of[2]
    assert region_of[2] == region_of[3] != region_of[4]
    assert region_of[4] == region_of[5]
    modes = mode_per_superpixel(labels, superpixels, 6)[0, ::4]
    assert modes[1] == modes[2]  # what the merge does better: a colour edge stays

    assert np.unique(merge_superpixels(labels, superpixels, 6, features, 0.0, 25.0)).size == 6
    assert np.unique(merge_superpixels(labels, superpixels, 6, features, 1e4, 0.0)).size == 1


def test_merged_regions_continue_across_the_planes_of_a_stack():
    from napari_unsupseg.superpixels import merge_superpixels

    # two planes, each cut into left/right superpixels with its own ids (as the
    # graph superpixels are cut plane by plane); the left halves look alike
    superpixels = np.zeros((2, 4, 8), dtype=np.int64)
    superpixels[0, :, 4:], superpixels[1, :, :4], superpixels[1, :, 4:] = 1, 2, 3
    features = np.where(np.indices((2, 4, 8))[2] < 4, 0.1, 0.9)[..., None]
    labels = np.where(np.indices((2, 4, 8))[2] < 4, 0, 1)
    regions = merge_superpixels(labels, superpixels, 4, features, 16.0, 25.0)
    assert np.unique(regions).size == 2
    np.testing.assert_array_equal(regions[0], regions[1])


def test_three_channels_are_compared_in_cielab():
    """Two touching superpixels of one label whose colours are 17 apart in RGB (% of
    the range) but 46 apart in CIELAB: a threshold of 30 keeps them apart."""
    from napari_unsupseg.superpixels import merge_superpixels

    superpixels = np.repeat(np.arange(2), 4)[None].repeat(4, axis=0)
    colours = np.array([[0.0, 0.43, 0.5], [0.0, 0.29, 0.6]], dtype=np.float32)
    features = colours[superpixels]
    labels = np.zeros(superpixels.shape, dtype=np.int64)
    assert 100 * np.linalg.norm(colours[0] - colours[1]) < 30
    assert np.unique(merge_superpixels(labels, superpixels, 2, features, 30.0, 0.0)).size == 2
    grey = features[..., :1]  # one channel: compared as it is, 14 apart: joined
    assert np.unique(merge_superpixels(labels, superpixels, 2, grey, 30.0, 0.0)).size == 1


def two_yellow_squares(channels: int = 3) -> np.ndarray:
    """Two separate yellow squares on blue: one class, two regions."""
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), (40, 60, 160), float)
    image[8:24, 8:24] = image[40:56, 36:56] = (220, 200, 40)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    return image[..., :channels]


def square_ids(labels):
    return [int(np.bincount(labels[square].ravel()).argmax())
            for square in (np.s_[8:24, 8:24], np.s_[40:56, 36:56])]  # fmt: skip


def test_cnn_merges_into_regions_when_regions_are_asked_for_and_keeps_classes_otherwise():
    """merge_threshold="auto": regions (what colour photos get by default) merge graph
    superpixels, so the two squares are two regions; classes and objects keep one class."""
    colour = us.segment(two_yellow_squares(), "cnn", seed=0)  # auto: regions on colour
    first, second = square_ids(colour)
    assert first != second
    classes = segment(two_yellow_squares(), "cnn", seed=0)
    assert len(set(square_ids(classes))) == 1
    unmerged = us.segment(two_yellow_squares(), "cnn", seed=0, output="regions", merge_threshold=0)
    assert len(set(square_ids(unmerged))) == 2  # connected regions of one class
    two_channels = np.moveaxis(two_yellow_squares(2), -1, 0)
    other = segment(two_channels, "cnn", seed=0, channel_axis=0)
    assert len(set(square_ids(other))) == 1


@pytest.mark.parametrize("method", ["cnn", "cnn+kmeans"])
def test_final_labels_are_whole_graph_superpixels(method):
    """cnn (class cleanup) and cnn+kmeans: one label per graph superpixel at full size."""
    from napari_unsupseg.superpixels import graph_superpixels

    image = two_yellow_squares()
    params = {"merge_threshold": 0} if method == "cnn" else {}
    labels = segment(image, method, seed=0, **params)
    ids, n_ids = graph_superpixels((image / np.float32(255))[None], 100.0, 20)
    assert max(np.unique(labels[ids[0] == k]).size for k in range(n_ids)) == 1


def test_cnn_with_scribbles_keeps_the_scribble_classes_instead_of_merging():
    image, truth = two_close_shades()
    scribbles = np.zeros(truth.shape, dtype=np.int32)
    scribbles[10:38, 8], scribbles[10:38, 40] = 1, 2
    params = {"n_channels": 16, "max_iter": 30}
    merged = segment(image, "cnn", seed=0, scribbles=scribbles, **params)
    classes = segment(image, "cnn", seed=0, scribbles=scribbles, merge_threshold=0, **params)
    np.testing.assert_array_equal(merged, classes)


def test_auto_min_labels_is_mean_channel_std_over_ten_plus_four():
    from napari_unsupseg.cnn.engine import auto_min_labels

    image, _ = noisy_blocks(shape=(48, 48))
    stds = [np.std(image[..., c].astype(np.float64)) for c in range(3)]
    expected = int(np.floor(np.mean(stds) / 10)) + 4
    assert expected > 4
    assert auto_min_labels(image.astype(np.float32) / 255) == expected


class Captured(Exception):
    """Raised by the stand-in for ``fit`` once it has the configuration."""


@pytest.fixture
def captured_fit(monkeypatch):
    """Replace the engine's ``fit`` by one that records what it was given."""
    from napari_unsupseg.cnn import engine

    record = {}

    def fake_fit(x, config, **kwargs):
        record.update(kwargs, config=config, x=x)
        raise Captured

    monkeypatch.setattr(engine, "fit", fake_fit)
    return record


PAPERS = {"n_channels": 100, "n_conv": 2, "max_iter": 1000, "min_labels": 3}


@pytest.mark.parametrize(
    ("method", "weighting", "p"),
    [
        ("cnn-superpixel", "none", None),
        ("cnn-continuity", "fixed", None),
        ("cnn-fsf", "fsf", 15.0),
        ("cnn-scf", "scf", 50.0),
    ],
)
def test_paper_methods_default_to_the_papers_settings(captured_fit, method, weighting, p):
    image, _ = noisy_blocks(shape=(48, 48))
    with pytest.raises(Captured):
        segment(image, method)
    config = captured_fit["config"]
    assert captured_fit["n_channels"] == 100 and captured_fit["n_conv"] == 2
    assert (config.max_iter, config.min_labels, config.patience) == (1000, 3, 0)
    assert (config.lr, config.momentum, config.similarity_weight) == (0.1, 0.9, 1.0)
    assert config.weighting == weighting
    if weighting == "fixed":
        assert config.continuity_weight == 1.0
    if p is not None:
        assert config.p == p
    assert (captured_fit["superpixels"] is not None) == (method == "cnn-superpixel")
    if method == "cnn-superpixel":
        superpixels = captured_fit["superpixels"]  # SLIC, the paper's settings
        assert (superpixels.kind, superpixels.n_segments, superpixels.compactness) == (
            "slic",
            10000,
            100.0,
        )
    # the authors' input: the image as float in [0, 1], nothing else
    np.testing.assert_allclose(
        captured_fit["x"][0].numpy(), np.moveaxis(image, -1, 0) / 255, rtol=1e-6
    )


def test_min_labels_auto_uses_seed_004_rule(captured_fit):
    from napari_unsupseg.cnn.engine import auto_min_labels

    image, _ = noisy_blocks(shape=(48, 48))
    with pytest.raises(Captured):
        segment(image, "cnn-continuity", min_labels="auto")
    assert captured_fit["config"].min_labels == auto_min_labels(image / 255.0)


def test_scribbles_set_min_labels_to_the_number_of_scribble_classes(captured_fit):
    from napari_unsupseg.cnn.losses import IGNORE

    image, _ = noisy_blocks(shape=(48, 48))
    scribbles = np.zeros((48, 48), dtype=np.int32)
    scribbles[5, 5:20], scribbles[30, 5:20], scribbles[40, 30:40] = 4, 9, 4
    with pytest.raises(Captured):
        segment(image, "cnn-continuity", scribbles=scribbles, min_labels=7)
    assert captured_fit["config"].min_labels == 2
    assert captured_fit["config"].scribble_weight == 0.5
    targets = captured_fit["scribbles"][0].numpy()
    np.testing.assert_array_equal(targets[scribbles == 4], 0)
    np.testing.assert_array_equal(targets[scribbles == 9], 1)
    assert np.all(targets[scribbles == 0] == IGNORE)


# --- stopping rules ----------------------------------------------------------------------


def fit_on_noise(**config):
    from napari_unsupseg.cnn.engine import fit

    x = torch.from_numpy(np.random.default_rng(0).random((1, 3, 24, 24), dtype=np.float32))
    _, result = fit(x, kim_config(**config), net_ndim=2, n_channels=8, n_conv=2, seed=0)
    return result


def test_stops_when_label_count_falls_to_min_labels():
    result = fit_on_noise(max_iter=50, min_labels=8)  # 8 channels: at most 8 labels
    assert (result.iterations, result.stopped_by) == (1, "min_labels")


def test_stops_after_patience_iterations_without_a_label_change():
    # lr 0: the network never changes, so neither do its labels
    result = fit_on_noise(max_iter=50, min_labels=0, patience=3, lr=0.0, momentum=0.0)
    assert (result.iterations, result.stopped_by) == (4, "patience")


def test_min_labels_zero_and_patience_zero_run_to_max_iter():
    result = fit_on_noise(max_iter=7, min_labels=0, patience=0, lr=0.0, momentum=0.0)
    assert (result.iterations, result.stopped_by) == (7, "max_iter")


def test_segment_runs_exactly_max_iter_iterations_with_rules_off():
    image, _ = noisy_blocks(shape=(32, 32))
    events = []
    segment(
        image, "cnn", n_channels=8, max_iter=9, min_labels=0, patience=0, progress=events.append
    )
    assert max(e.iteration for e in events if e.stage == "training") == 9


# --- prediction ------------------------------------------------------------------------


def test_tiled_prediction_equals_whole_image_prediction(monkeypatch):
    from napari_unsupseg.cnn import infer
    from napari_unsupseg.cnn.net import build_net, freeze_batchnorm, halo

    rng = np.random.default_rng(0)
    sample = rng.random((100, 90, 3))  # channel-last, float64 for exact comparison
    x = torch.from_numpy(np.moveaxis(sample, -1, 0)[None].copy())
    net = build_net(3, 8, n_conv=3, seed=0).double()
    freeze_batchnorm(net, [x])
    with torch.no_grad():
        whole = net(x).argmax(dim=1)[0].numpy()

    monkeypatch.setattr(infer, "TILE_VALUES", 1)  # smallest tiles: 4096 pixels
    assert infer.tile_shape(sample.shape[:-1], 8) == (50, 45)
    tiles = []

    def fn(tile):
        tiles.append(tuple(tile.shape[2:]))
        return net(tile).argmax(dim=1)

    tiled = infer.map_tiles(fn, sample, halo(net), 8, torch.device("cpu"))
    assert len(tiles) == 4
    np.testing.assert_array_equal(tiled, whole)


def test_training_on_a_reduced_copy_still_labels_every_pixel():
    image, truth = noisy_blocks(shape=(96, 96))
    params = {**QUICK["cnn"], "train_size": 48 * 48}
    labels = segment(image, "cnn", seed=0, **params)
    assert_numbered_largest_first(labels, truth.shape)
    assert best_match_miou(labels, truth) >= 0.9


# --- devices -----------------------------------------------------------------------------


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from napari_unsupseg._device import resolve_device

    mps = torch.backends.mps
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_auto_device_is_the_cpu_on_this_machine():
    from napari_unsupseg._device import resolve_device

    has_gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    assert (resolve_device("auto").type == "cpu") != has_gpu


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    image, _ = noisy_blocks(shape=(32, 32))
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        segment(image, "cnn", device="cuda", max_iter=2)


def test_memory_estimate_counts_the_graph_cleanup():
    """The 4096x4096 RGB run with the defaults peaked at 2.05 GiB resident
    (docs/benchmarks.md): the estimate made before a run must not promise less."""
    spec = us.available_methods()["cnn"]
    with_cleanup = spec.estimate_memory((4096, 4096), 3, spec.resolve({}), "cpu")
    without = spec.estimate_memory((4096, 4096), 3, spec.resolve({"refinement": "none"}), "cpu")
    assert without < with_cleanup and with_cleanup >= 2.05 * 1024**3


def kim_config(**overrides):
    """Kim et al.'s training settings (``cnn-continuity``'s defaults), some replaced."""
    from napari_unsupseg import get_method
    from napari_unsupseg.cnn.train import TrainConfig

    spec = get_method("cnn-continuity")
    settings = {**spec.settings(spec.defaults), **overrides}
    return TrainConfig.of(settings, settings["min_labels"])
