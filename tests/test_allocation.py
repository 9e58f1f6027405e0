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


def allocate_and_free(buffers: int) -> int:
    """Page faults of allocating, filling and freeing ``buffers`` 64 MiB tensors."""
    before = minor_faults()
    tensors = [torch.ones(SIZE) for _ in range(buffers)]
    del tensors
    return minor_faults() - before


@glibc
def test_freed_big_buffers_are_reused_without_page_faults():
    """As in a training step: the same few big buffers, allocated and freed again and
    again. After a warm-up, no fresh pages (16,384 faults per buffer on fresh memory)."""
    with reuse_freed_memory():
        for _ in range(3):
            allocate_and_free(3)
        assert allocate_and_free(3) < 1000


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
    entered, release = threading.Event(), threading.Event()

    def other_user():
        with reuse_freed_memory():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_user)
    thread.start()
    entered.wait(10)
    with reuse_freed_memory():
        pass  # leaving here must not switch the setting off for the other thread
    try:
        for _ in range(3):
            allocate_and_free(3)
        # still active for the other thread: freed memory stays, no fresh page faults
        faults = allocate_and_free(3)
    finally:
        release.set()
        thread.join()
    assert faults < 1000
