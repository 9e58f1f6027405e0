import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def errors(monkeypatch):
    """Error notifications the docks show, captured at the function they call."""
    from napari_unsupseg._widgets import _objects, evaluate, inspect, segment, transfer

    shown = []
    for module in (_objects, evaluate, inspect, segment, transfer):
        monkeypatch.setattr(module, "show_error", shown.append)
    return shown


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for a test module's small networks: on a busy 2-core machine
    torch's spinning threads make them many times slower; results are the same. A
    module takes it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def swap_spec(monkeypatch):
    """``swap_spec(name, run=fn, ...)``: for this test, method ``name``'s spec has the
    given fields replaced (its engine, its series trainer, its memory estimate)."""
    import dataclasses

    from napari_unsupseg import classical
    from napari_unsupseg.baselines import specs as baseline_specs
    from napari_unsupseg.cnn import specs as cnn_specs
    from napari_unsupseg.transfer import api as transfer_api

    def swap(name, **changes):
        if name == transfer_api.METHOD.name:
            new = dataclasses.replace(transfer_api.METHOD, **changes)
            monkeypatch.setattr(transfer_api, "METHOD", new)
            return new
        for module in (classical, cnn_specs, baseline_specs):
            if any(spec.name == name for spec in module.METHODS):
                methods = tuple(
                    dataclasses.replace(spec, **changes) if spec.name == name else spec
                    for spec in module.METHODS
                )
                monkeypatch.setattr(module, "METHODS", methods)
                return next(spec for spec in methods if spec.name == name)
        raise KeyError(name)

    return swap
