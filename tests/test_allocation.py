"""Freed memory is reused while the CNN trains, and given back afterwards (glibc)."""

import platform
import resource
import threading

import pytest
import torch

from napari_unsupseg.cnn.allocation import reuse_freed_memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the allocator settings are glibc's",
)

SIZE = 64 * 2**20 // 4  # float32 elements in 64 MiB: far above glibc's mmap threshold


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def huge_pages_always() -> bool:
    """With transparent huge pages always on, fresh memory faults per 2 MiB, not 4 KiB."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


@glibc
@pytest.mark.skipif(huge_pages_always(), reason="page faults are too few to compare")
def test_training_at_the_papers_size_stops_faulting_in_fresh_pages():
    """The papers' setting (C = 100 on a 481x321 image: 62 MB per full-size buffer).
    Each training step allocates and frees the same buffers; glibc maps them fresh
    every time (about 240,000 page faults per step). Inside train(), after the first
    steps, nearly all of that memory is reused."""
    from napari_unsupseg.cnn.net import build_net, channels_last
    from napari_unsupseg.cnn.train import make_optimizer, train_step

    x = channels_last(torch.rand(1, 3, 321, 481, generator=torch.Generator().manual_seed(0)))
    net = build_net(3, 100, seed=0)
    optimizer = make_optimizer(net)
    config = kim_config()

    def faults_of_a_step() -> int:
        before = minor_faults()
        train_step(net, optimizer, x, config)
        return minor_faults() - before

    faults_of_a_step()
    plain = faults_of_a_step()
    with reuse_freed_memory(buffer_bytes=4 * 100 * 321 * 481):
        for _ in range(3):
            faults_of_a_step()
        reused = faults_of_a_step()
    assert reused < plain / 4, (reused, plain)


@glibc
def test_small_buffers_leave_the_allocator_alone():
    from napari_unsupseg.cnn import allocation

    with reuse_freed_memory(buffer_bytes=1 << 20):
        assert allocation._active == 0
    with reuse_freed_memory(buffer_bytes=64 << 20):
        assert allocation._active == 1
    assert allocation._active == 0


@glibc
def test_memory_kept_for_reuse_is_given_back_on_leaving():
    start = resident_bytes()
    with reuse_freed_memory():
        buffers = [torch.ones(SIZE) for _ in range(3)]
        del buffers
        assert resident_bytes() - start > 150 * 2**20  # kept while active
    assert resident_bytes() - start < 50 * 2**20


@glibc
def test_nested_and_concurrent_users_keep_the_setting_until_the_last_leaves():
    from napari_unsupseg.cnn import allocation

    entered, release = threading.Event(), threading.Event()

    def other_user():
        with reuse_freed_memory():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_user)
    thread.start()
    entered.wait(10)
    try:
        with reuse_freed_memory():
            assert allocation._active == 2
        assert allocation._active == 1  # still on for the other thread
    finally:
        release.set()
        thread.join()
    assert allocation._active == 0


def kim_config(**overrides):
    """Kim et al.'s training settings (``cnn-continuity``'s defaults), some replaced."""
    from napari_unsupseg import get_method
    from napari_unsupseg.cnn.train import TrainConfig

    spec = get_method("cnn-continuity")
    settings = {**spec.settings(spec.defaults), **overrides}
    return TrainConfig.of(settings, settings["min_labels"])
