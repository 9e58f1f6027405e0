"""The baselines IIC, W-Net and DIC (issue 18): their losses are the papers' formulas,
their post-processing does what it says, and they run through segment() (images and
stacks), segment_series (finding the synthetic image's blocks), the memory check,
progress and cancellation. The widget, the CLI and the benchmark: in
``test_baselines_frontends.py``.

Known answers, same seed same labels and cancellation within one iteration are also
checked for every CNN method, these included, in ``test_cnn.py``.
"""

import math

import numpy as np
import pytest
import torch

import napari_unsupseg as us
from napari_unsupseg import InsufficientMemoryError, SegmentationCancelled, _memory
from napari_unsupseg.baselines import dic, iic, wnet, wnet_post
from synthetic import best_match_miou, noisy_blocks

BASELINES = ["iic", "wnet", "dic"]
#: settings that find the four blocks of a 48x48 image in about a second (as in test_cnn)
QUICK = {
    "iic": {"n_clusters": 4, "n_layers": 2, "width": 32, "max_iter": 40},
    "wnet": {"n_classes": 4, "max_iter": 20},
    "dic": {"max_iter": 20},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the papers' losses ----------------------------------------------------------------


def test_iic_joint_distribution_pairs_every_pixel_with_its_displaced_neighbours():
    rng = np.random.default_rng(0)
    z1 = torch.from_numpy(rng.dirichlet(np.ones(3), (2, 5, 6))).permute(0, 3, 1, 2).float()
    z2 = torch.from_numpy(rng.dirichlet(np.ones(3), (2, 4, 5))).permute(0, 3, 1, 2).float()
    origin, radius = (1, 0), 1
    expected = torch.zeros(3, 3)
    for b in range(2):
        for y in range(5):
            for x in range(6):
                for ty in (-1, 0, 1):
                    for tx in (-1, 0, 1):
                        v = (y - origin[0] + ty, x - origin[1] + tx)
                        if 0 <= v[0] < 4 and 0 <= v[1] < 5:
                            expected += torch.outer(z1[b, :, y, x], z2[b, :, v[0], v[1]])
    expected /= expected.sum()
    expected = (expected + expected.t()) / 2
    got = iic.joint_distribution(z1, z2, radius, origin)
    torch.testing.assert_close(got, expected)


def test_iic_loss_is_mutual_information():
    independent = torch.outer(torch.tensor([0.2, 0.3, 0.5]), torch.tensor([0.2, 0.3, 0.5]))
    assert abs(float(iic.mutual_information(independent))) < 1e-6
    diagonal = torch.eye(4) / 4
    assert float(iic.mutual_information(diagonal)) == pytest.approx(math.log(4), rel=1e-5)
    # weighing the marginals' entropy more (the authors' lamb) raises balanced solutions
    assert float(iic.mutual_information(diagonal, 1.5)) == pytest.approx(2 * math.log(4))


def test_wnet_soft_ncut_equals_the_formula_on_a_dense_affinity_matrix():
    rng = np.random.default_rng(1)
    image = torch.from_numpy(rng.random((1, 3, 5, 6))).float()
    p = torch.from_numpy(rng.dirichlet(np.ones(4), (1, 5, 6))).permute(0, 3, 1, 2).float()
    radius, sigma_i, sigma_x = 2, 60.0, 4.0
    pixels = [(y, x) for y in range(5) for x in range(6)]
    weights = torch.zeros(30, 30)
    for i, (y1, x1) in enumerate(pixels):
        for j, (y2, x2) in enumerate(pixels):
            distance = (y1 - y2) ** 2 + (x1 - x2) ** 2
            if distance < radius**2:
                colour = (((image[0, :, y1, x1] - image[0, :, y2, x2]) * 255) ** 2).sum()
                weights[i, j] = torch.exp(-colour / sigma_i**2) * math.exp(-distance / sigma_x**2)
    flat = p[0].reshape(4, -1)
    expected = 4 - sum(
        float(flat[k] @ weights @ flat[k]) / float(flat[k] @ weights.sum(dim=1)) for k in range(4)
    )
    got = wnet.soft_ncut(p, wnet.ncut_weights(image, radius, sigma_i, sigma_x))
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_dic_clusters_without_gradient_through_the_em_steps():
    net = dic.build_net(3, width=4, n_channels=6, n_centres=5, em_steps=3)
    x = torch.rand(1, 3, 8, 8)
    net(x).sum().backward()
    assert net.dcs.conv1.weight.grad is None  # used only inside the EM steps, as in the code
    assert net.dcs.conv2.weight.grad is not None and net.first[0].weight.grad is not None


# --- post-processing ---------------------------------------------------------------------


def test_crf_fixes_an_isolated_wrong_pixel_and_keeps_a_colour_edge():
    image = torch.zeros(1, 3, 12, 12)
    image[..., 6:] = 1.0
    p = torch.full((1, 2, 12, 12), 0.1)
    p[:, 0, :, :6] = 0.9
    p[:, 1, :, 6:] = 0.9
    p[:, :, 3, 2] = torch.tensor([0.4, 0.6])  # one unsure pixel on the wrong side
    q = wnet_post.mean_field(p, image, iterations=5)
    labels = q.argmax(dim=1)[0]
    assert (labels[:, :6] == 0).all() and (labels[:, 6:] == 1).all()


def test_hierarchical_merging_joins_weak_boundaries_and_keeps_strong_ones():
    sample = np.zeros((20, 30, 3), dtype=np.float32)
    sample[:, 15:] = 0.8  # one strong edge
    sample[:, :15] += np.linspace(0, 0.02, 15)[None, :, None]  # a faint ramp, no edge
    labels = np.zeros((20, 30), dtype=np.int64)
    labels[:, 5:10], labels[:, 10:15], labels[:, 15:] = 1, 2, 3
    merged = wnet_post.merge_regions(labels, sample, threshold=5.0)
    assert np.unique(merged[:, :15]).size == 1
    assert np.unique(merged[:, 15:]).size == 1
    assert merged[0, 0] != merged[0, 29]


def test_dic_final_labels_are_whole_superpixels():
    from napari_unsupseg.superpixels import graph_superpixels

    image, _ = noisy_blocks(shape=(40, 40), noise=40.0)
    labels = us.segment(image, "dic", seed=0, max_iter=2, min_labels=0)
    ids, _ = graph_superpixels(image[None].astype(np.float32) / 255.0, 100.0, 20)
    for sp in np.unique(ids):
        assert np.unique(labels[ids[0] == sp]).size == 1


# --- through segment(), segment_series, stacks -------------------------------------------


@pytest.mark.parametrize("method", BASELINES)
def test_odd_sizes_thin_planes_and_grey_images_are_labelled_whole(method):
    for shape in ((13, 7), (1, 9), (33, 50)):
        image = np.random.default_rng(0).random(shape).astype(np.float32)
        labels = us.segment(image, method, seed=0, max_iter=2, output="classes")
        assert labels.shape == shape and labels.min() == 1


@pytest.mark.parametrize("method", BASELINES)
def test_a_stack_gets_one_network_and_the_same_ids_on_every_plane(method):
    plane, _ = noisy_blocks(shape=(32, 32))
    stack = np.stack([plane, np.roll(plane, 1, axis=0), plane[::-1]])  # the last upside down
    labels = us.segment(stack, method, seed=0, **QUICK[method], train_planes=2)
    assert labels.shape == (3, 32, 32)
    top_left = [labels[0, 8, 8], labels[1, 8, 8], labels[2, 24, 8]]  # one colour
    assert len(set(top_left)) == 1
    assert labels[0, 8, 8] != labels[0, 8, 24]


@pytest.mark.parametrize("method", BASELINES)
def test_segment_series_trains_on_one_image_and_labels_all_consistently(method):
    blocks = [noisy_blocks(shape=(48, 48), seed=s) for s in (0, 1)]
    blocks.append(noisy_blocks(shape=(56, 64), seed=2))
    images = [image for image, _ in blocks]
    labels = us.segment_series(
        images, method, train_on=[0], seed=0, output="classes", **QUICK[method]
    )
    assert [lab.shape for lab in labels] == [(48, 48), (48, 48), (56, 64)]
    for lab, (image, truth) in zip(labels, blocks, strict=True):
        assert best_match_miou(lab, truth) >= 0.9
        h, w = image.shape[:2]
        corners = [lab[h // 4, w // 4], lab[h // 4, 3 * w // 4], lab[3 * h // 4, w // 4]]
        assert len(set(corners)) == 3
        assert corners == [labels[0][12, 12], labels[0][12, 36], labels[0][36, 12]]


def test_segment_series_same_seed_same_labels():
    images = [noisy_blocks(shape=(32, 32), seed=s)[0] for s in (0, 1)]
    first = us.segment_series(images, "iic", seed=3, **QUICK["iic"])
    second = us.segment_series(images, "iic", seed=3, **QUICK["iic"])
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", BASELINES)
def test_previews_are_full_size_labels_and_should_stop_ends_the_run(method):
    image, _ = noisy_blocks(shape=(40, 40))
    previews, seen, asked = [], [], {"stop": False}

    def progress(event):
        seen.append(event.iteration)
        if event.labels is not None:
            previews.append(event.labels)
        asked["stop"] = event.iteration == 2

    never = {"min_labels": 0} if method == "dic" else {}
    with pytest.raises(SegmentationCancelled):
        us.segment(
            image, method, progress=progress, should_stop=lambda: asked["stop"], max_iter=50,
            **never,
        )  # fmt: skip
    assert seen == [1, 2]  # stopped within the iteration it was asked in
    assert previews and all(p.shape == (40, 40) and p.min() == 1 for p in previews)


@pytest.mark.parametrize("method", BASELINES)
def test_memory_check_refuses_a_run_that_cannot_fit(monkeypatch, method):
    spec = us.available_methods()[method]
    small = spec.estimate_memory((512, 512), 3, spec.defaults)
    full = spec.estimate_memory((512, 512), 3, {**spec.defaults, "train_size": 0})
    assert 0 < small < full  # training at full size costs more
    monkeypatch.setattr(_memory, "available_memory", lambda: small // 4)
    with pytest.raises(InsufficientMemoryError, match="would fit"):
        us.segment(np.random.default_rng(0).integers(0, 255, (512, 512, 3), np.uint8), method)


def test_known_answers_with_the_settings_of_these_tests():
    image, truth = noisy_blocks(shape=(48, 48))
    for method in BASELINES:
        labels = us.segment(image, method, seed=0, **QUICK[method])
        assert best_match_miou(labels, truth) >= 0.9, method
