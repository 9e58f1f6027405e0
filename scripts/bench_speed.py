"""Speed of the self-training CNN against what the hardware and the framework allow.

One run reports, on a 481x321 RGB image (BSDS500's size) at the papers' settings
(C = 100, nConv = 2):

1. the time of one training iteration of the engine (``train_step``: forward, argmax,
   label count, loss, backward, SGD step), for the 2020 loss and for the 2018 loss with
   superpixel refinement;
2. the bare forward + backward time of the same three convolutions alone (what the
   framework allows), and the engine's iteration as a multiple of it;
3. the FLOP count of those convolutions divided by the machine's measured peak (a large
   float32 matrix product): the physical floor;
4. the superpixel refinement (one ``bincount``) against a per-superpixel Python loop
   like the authors', on the same labels and 10,000 SLIC superpixels;
5. the authors' 2020 training iteration, reproduced from their public code (a Python
   loop-free step but with host round trips and ``np.unique`` each iteration).

Each is timed twice: with glibc's default allocation, and with freed memory kept for
reuse, as the engine's ``train()`` runs (``cnn/allocation.py``).

    python scripts/bench_speed.py [--repeats 5] [--device cpu] [--threads N]

The image is synthetic (smooth colour regions with noise), so no data set is needed.
Medians of ``--repeats`` timed runs after two warm-ups; the five iterations are timed in
turns, so that load from elsewhere on a shared machine affects them alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

SHAPE = (321, 481)
C, N_CONV = 100, 2


def synthetic_image(shape=SHAPE, seed=0) -> np.ndarray:
    """Smooth random colour regions plus noise, float32 in [0, 1], channel-last."""
    from scipy.ndimage import gaussian_filter, zoom

    rng = np.random.default_rng(seed)
    coarse = rng.random((shape[0] // 20 + 1, shape[1] // 20 + 1, 3))
    smooth = zoom(coarse, (20, 20, 1), order=0)[: shape[0], : shape[1]]
    image = gaussian_filter(smooth, (2, 2, 0)) + rng.normal(0, 0.03, (*shape, 3))
    return np.clip(image, 0, 1).astype(np.float32)


def timed(fn, repeats: int, sync=lambda: None) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs, after two warm-ups."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_together(steps: dict, repeats: int, sync=lambda: None) -> dict:
    """Median seconds of each step, timed in turns (one call of each per round) so that
    a busy neighbour on a shared machine slows all of them alike, after two warm-ups."""
    for step in steps.values():
        step(), step()
    sync()
    times = {what: [] for what in steps}
    for _ in range(repeats):
        for what, step in steps.items():
            start = time.perf_counter()
            step()
            sync()
            times[what].append(time.perf_counter() - start)
    return {what: statistics.median(t) for what, t in times.items()}


def conv_flops(shape, in_channels=3, channels=C, n_conv=N_CONV) -> float:
    """Multiply-adds x 2 of the three convolutions' forward, backward (input and
    weight gradients: twice the forward), i.e. 3x the forward count."""
    pixels = shape[0] * shape[1]
    macs = pixels * channels * in_channels * 9  # first conv3x3
    macs += (n_conv - 1) * pixels * channels * channels * 9  # conv3x3 blocks
    macs += pixels * channels * channels  # conv1x1
    return 3 * 2 * macs


def peak_flops(device, sync, repeats: int) -> float:
    """Measured float32 matrix-product throughput (FLOP/s): the machine's practical peak."""
    import torch

    best = 0.0
    for n in (1024, 2048, 4096) if device.type == "cpu" else (8192,):
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        best = max(best, 2 * n**3 / timed(lambda a=a, b=b: a @ b, repeats, sync))
    return best


def bare_convolutions(x, device, channels_last=False):
    """The network's three convolutions with nothing between them: a lower bound, in
    PyTorch's default layout or in channels-last memory (what the engine uses)."""
    import torch

    from napari_unsupseg.cnn.net import channels_last as to_channels_last

    torch.manual_seed(0)
    convs = [
        torch.nn.Conv2d(x.shape[1], C, 3, padding=1),
        *[torch.nn.Conv2d(C, C, 3, padding=1) for _ in range(N_CONV - 1)],
        torch.nn.Conv2d(C, C, 1),
    ]
    convs = torch.nn.Sequential(*convs).to(device)
    if channels_last:
        convs = convs.to(memory_format=torch.channels_last)
        x = to_channels_last(x)

    def step():
        convs.zero_grad(set_to_none=True)
        convs(x).sum().backward()

    return step


def engine_step(x, device, superpixels=None):
    """One iteration of the engine's training loop, as ``segment()`` runs it (the
    network and its input in channels-last memory, as ``fit()`` puts them)."""
    from napari_unsupseg.cnn.net import build_net, channels_last
    from napari_unsupseg.cnn.train import autocast_for, make_optimizer, train_step

    net = build_net(x.shape[1], C, N_CONV, 2, seed=0).to(device)
    net.train()
    x = channels_last(x)
    optimizer = make_optimizer(net)
    amp = autocast_for(device)
    if superpixels is None:
        config = kim_config(weighting="fixed")
        sp, n_sp = None, 0
    else:
        config = kim_config(weighting="none")
        sp, n_sp = superpixels

    def step():
        _, n_labels, loss = train_step(
            net, optimizer, x, config, superpixels=sp, n_superpixels=n_sp, amp=amp
        )
        float(loss), int(n_labels)  # the engine's one host round trip per iteration

    return step


def authors_step(x, device):
    """The authors' 2020 iteration (Kim et al.'s public demo), reproduced: PyTorch's
    default layout, forward, argmax copied to the host, ``np.unique`` for the label
    count, autograd's continuity loss."""
    import torch

    from napari_unsupseg.cnn.net import build_net

    net = build_net(x.shape[1], C, N_CONV, 2, seed=0).to(device)
    net = net.to(memory_format=torch.contiguous_format)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    ce, l1 = torch.nn.CrossEntropyLoss(), torch.nn.L1Loss(reduction="mean")
    h, w = x.shape[2:]
    hpy_target = torch.zeros(h - 1, w, C, device=device)
    hpz_target = torch.zeros(h, w - 1, C, device=device)

    def step():
        optimizer.zero_grad()
        output = net(x)[0]
        output = output.permute(1, 2, 0).contiguous().view(-1, C)
        output_hp = output.reshape((h, w, C))
        hp_y = output_hp[1:, :, :] - output_hp[0:-1, :, :]
        hp_z = output_hp[:, 1:, :] - output_hp[:, 0:-1, :]
        lhpy, lhpz = l1(hp_y, hpy_target), l1(hp_z, hpz_target)
        _, target = torch.max(output, 1)
        im_target = target.data.cpu().numpy()
        len(np.unique(im_target))
        loss = ce(output, target) + (lhpy + lhpz)
        loss.backward()
        optimizer.step()
        loss.item()

    return step


def refinement_comparison(image: np.ndarray, repeats: int):
    """(vectorised seconds, Python-loop seconds, identical?) on 10,000 SLIC superpixels."""
    import torch
    from skimage.segmentation import slic

    from napari_unsupseg.superpixels import superpixel_mode

    sp = slic(image.astype(np.float64), n_segments=10000, compactness=100, start_label=0)
    _, sp = np.unique(sp, return_inverse=True)
    sp = sp.reshape(image.shape[:2])
    n_sp = int(sp.max()) + 1
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, size=sp.shape)
    labels_t, sp_t = torch.from_numpy(labels), torch.from_numpy(sp)

    def vectorised():
        return superpixel_mode(labels_t, sp_t, n_sp, C)

    flat_sp, flat_labels = sp.ravel(), labels.ravel()
    l_inds = [np.where(flat_sp == u)[0] for u in np.unique(flat_sp)]  # authors: once

    def authors_loop():
        target = flat_labels.copy()
        for inds in l_inds:
            labels_per_sp = target[inds]
            u_labels_per_sp = np.unique(labels_per_sp)
            hist = np.zeros(len(u_labels_per_sp))
            for j in range(len(hist)):
                hist[j] = len(np.where(labels_per_sp == u_labels_per_sp[j])[0])
            target[inds] = u_labels_per_sp[np.argmax(hist)]
        return target

    same = np.array_equal(vectorised().numpy().ravel(), authors_loop())
    fast = timed(vectorised, repeats)
    slow = timed(authors_loop, max(1, repeats // 2))
    return fast, slow, same, n_sp


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)

    import torch

    from napari_unsupseg._device import resolve_device
    from napari_unsupseg.cnn.engine import to_tensor

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    image = synthetic_image()
    x = to_tensor(image[None], device)

    from napari_unsupseg.cnn.allocation import reuse_freed_memory
    from napari_unsupseg.superpixels import compute_superpixels

    sp, n_sp = compute_superpixels(image[None], 10000, 100.0)
    sp_t = torch.from_numpy(sp).to(device)
    steps = {
        "bare conv forward+backward, default layout": bare_convolutions(x, device),
        "bare conv forward+backward, channels-last": bare_convolutions(x, device, True),
        "engine iteration, 2020 loss (cnn-continuity)": engine_step(x, device),
        "engine iteration, 2018 loss (cnn-superpixel)": engine_step(x, device, (sp_t, n_sp)),
        "authors' 2020 iteration (reproduced)": authors_step(x, device),
    }
    # Each row twice: with glibc's default allocation, and as train() runs, with freed
    # memory kept for reuse (see napari_unsupseg.cnn.allocation).
    plain = timed_together(steps, args.repeats, sync)
    with reuse_freed_memory():
        peak = peak_flops(device, sync, args.repeats)
        reused = timed_together(steps, args.repeats, sync)
    flops = conv_flops(SHAPE)
    fast, slow, same, n_segments = refinement_comparison(image, args.repeats)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"machine: {platform.machine()} {name or 'CPU'}, {os.cpu_count()} logical cores, ")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"image {SHAPE[1]}x{SHAPE[0]} RGB, C={C}, nConv={N_CONV}, median of {args.repeats}")
    print()
    floor = f"FLOP floor: {flops / 1e9:.1f} GFLOP at measured peak {peak / 1e9:.0f} GFLOP/s"
    bare = "bare conv forward+backward, channels-last"
    print("| what | seconds, freed memory reused (as `train()` runs) | vs bare channels-last "
          "| seconds, glibc default allocation | vs bare channels-last |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(f"| {floor} | {flops / peak:.3f} | {flops / peak / reused[bare]:.2f}x | | |")
    for what in steps:
        print(f"| {what} | {reused[what]:.3f} | {reused[what] / reused[bare]:.2f}x "
              f"| {plain[what]:.3f} | {plain[what] / plain[bare]:.2f}x |")  # fmt: skip
    print()
    print(f"superpixel refinement, {n_segments} SLIC superpixels: bincount {fast * 1e3:.2f} ms, "
          f"authors' Python loop {slow * 1e3:.0f} ms: {slow / fast:.0f}x faster, "
          f"identical targets: {same}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def kim_config(**overrides):
    """Kim et al.'s training settings (``cnn-continuity``'s defaults), some replaced."""
    from napari_unsupseg import get_method
    from napari_unsupseg.cnn.train import TrainConfig

    spec = get_method("cnn-continuity")
    settings = {**spec.settings(spec.defaults), **overrides}
    return TrainConfig.of(settings, settings["min_labels"])
