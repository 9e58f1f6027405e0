"""Each method's defaults are written once, in its spec: what ``available_methods()``
reports (its parameters' defaults, plus the engine settings fixed beside them) is what
a run without parameters hands the engine, whichever way it comes: ``segment()``,
``segment_series``, the memory estimate, the lazy path, the command line, batch,
bench and the segmentation dock. The engines are spies here (they record what they
are given and return blank labels), so every method is checked in seconds. And no
engine signature, and no ``params.get(name, fallback)``, holds another value for a
name a spec declares."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import napari_unsupseg
from napari_unsupseg import available_methods, get_method, segment, segment_series

METHODS = list(available_methods())
GUIDED = "transfer"
#: what a list of images lacks: a stack's settings; it takes no scribbles either
NOT_IN_SERIES = ("stack_mode", "train_planes", "scribbles")
IMAGE = np.random.default_rng(0).random((16, 20, 3)).astype(np.float32)


class Recorded(Exception):
    """Raised by a spy that has seen what it needed (the run goes no further)."""


@pytest.fixture
def spy(swap_spec):
    """``spy(name)``: method ``name`` runs, trains series and estimates memory through
    recorders; returns ``{"run": [...], "series": [...], "estimate": [...]}``."""

    def install(name):
        calls = {"run": [], "series": [], "estimate": []}
        spec = get_method(name)

        def run(features, *, seed, device, reporter, **settings):
            calls["run"].append(settings)
            return np.zeros(features.shape[:-1], np.int32)

        def series(features, index, settings, *, seed, device, reporter, batch_size):
            calls["series"].append(settings)
            return [np.zeros(f.shape[:-1], np.int32) for f in features]

        def estimate(spatial_shape, n_channels, settings, device="auto"):
            calls["estimate"].append(settings)
            spec.estimate(spatial_shape, n_channels, settings, device)  # reads every name
            return 0

        changes = {"run": run, "estimate": estimate}
        if spec.series is not None:
            changes["series"] = series
        swap_spec(name, **changes)
        return calls

    return install


def expected(name, drop=()):
    """What the engine must be given on a run without parameters."""
    spec = get_method(name)
    defaults = {k: v for k, v in spec.defaults.items() if k not in drop}
    return {k: v for k, v in spec.settings(defaults).items() if k not in drop}


@pytest.mark.parametrize("name", METHODS)
def test_segment_gives_the_engine_the_specs_defaults(name, spy):
    calls = spy(name)
    segment(IMAGE, name, device="cpu")  # RGB: regions, so merge_threshold stays "auto"
    assert calls["run"] == [expected(name)]
    assert calls["estimate"] == [expected(name)]


@pytest.mark.parametrize("name", [m for m in METHODS if get_method(m).series is not None])
def test_segment_series_gives_the_trainer_the_specs_defaults(name, spy):
    calls = spy(name)
    segment_series([IMAGE, IMAGE[:12]], name, device="cpu")
    assert calls["series"] == [expected(name, drop=NOT_IN_SERIES)]
    assert len(calls["estimate"]) == 1 and calls["estimate"][0] == expected(name)


def test_the_cnn_methods_and_the_baselines_train_series():
    assert {m for m in METHODS if get_method(m).series is not None} == {
        m for m in METHODS if get_method(m).uses_torch
    }


def test_transfer_gives_its_engine_the_specs_defaults(monkeypatch):
    from napari_unsupseg.transfer import engine

    seen = []

    def run_transfer(targets, source, source_labels, *, seed, device, reporter, **settings):
        seen.append(settings)
        return [np.zeros(t.shape[:-1], np.int32) for t in targets]

    monkeypatch.setattr(engine, "run_transfer", run_transfer)
    labels = (np.arange(32 * 32).reshape(32, 32) % 2).astype(np.int32)
    image = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    segment(image, GUIDED, source_image=image, source_labels=labels, device="cpu")
    assert seen == [expected(GUIDED, drop=("source_image", "source_labels"))]


def _lazy_spies(monkeypatch):
    from napari_unsupseg.chunked import _classical, _cnn

    seen = []

    def train(*args, **kwargs):
        seen.append(next(a for a in args if isinstance(a, dict)))
        raise Recorded

    monkeypatch.setattr(_cnn, "train_predictor", train)
    monkeypatch.setattr(_classical, "train_clusters", train)
    return seen


@pytest.mark.parametrize("name", ["cnn", "cnn-superpixel", "cnn+kmeans", "kmeans", "gmm"])
def test_the_lazy_path_gives_the_engine_the_specs_defaults(name, spy, monkeypatch):
    import dask.array as da

    from napari_unsupseg.chunked import segment_lazy

    calls = spy(name)
    seen = _lazy_spies(monkeypatch)
    with pytest.raises(Recorded):
        segment_lazy(da.from_array(IMAGE, chunks=(8, 10, 3)), name, device="cpu")
    want = expected(name)
    if want.get("merge_threshold") == "auto":
        want["merge_threshold"] = 0.0  # the region merge is not chunked
    assert seen == [want]
    assert calls["estimate"] and all(e == expected(name) for e in calls["estimate"])


@pytest.mark.parametrize("name", METHODS)
def test_the_command_line_gives_the_engine_the_specs_defaults(name, spy, tmp_path):
    import imageio.v3 as iio

    from napari_unsupseg.cli import main

    iio.imwrite(tmp_path / "tiny.png", (IMAGE * 255).astype(np.uint8))
    calls = spy(name)
    args = ["segment", str(tmp_path / "tiny.png"), "-m", name, "--device", "cpu", "-q"]
    assert main([*args, "-o", str(tmp_path / "out")]) == 0
    assert calls["run"] == [expected(name)]


@pytest.mark.parametrize("name", ["cnn", "cnn-scf", "kmeans", "dic"])
def test_batch_and_bench_give_the_engine_the_specs_defaults(name, spy, tmp_path):
    import imageio.v3 as iio

    from napari_unsupseg.batch import BatchSettings, ImageJob, run_batch
    from napari_unsupseg.bench import call_method, parse_method_spec

    calls = spy(name)
    call_method(IMAGE, parse_method_spec(name), seed=0, device="cpu")
    iio.imwrite(tmp_path / "tiny.png", (IMAGE * 255).astype(np.uint8))
    job = ImageJob(str(tmp_path / "tiny.png"), "tiny.png", str(tmp_path / "l.tif"), "")
    run_batch([job], BatchSettings(method=name, device="cpu"))
    assert calls["run"] == [expected(name), expected(name)]


# --- static: no second place holds a default -----------------------------------------


def _declared() -> dict[str, set]:
    """Every value a spec gives a name: parameters' defaults and fixed settings (but
    ``None``, which marks a setting the method leaves unused)."""
    values: dict[str, set] = {}
    for spec in [*available_methods().values(), get_method(GUIDED)]:
        for name, value in {**spec.defaults, **spec.fixed}.items():
            if value is not None and not isinstance(value, np.ndarray):
                values.setdefault(name, set()).add(value)
    return values


def _engine_functions(spec):
    """The functions a run of ``spec`` hands its settings to."""
    from napari_unsupseg.baselines import runner
    from napari_unsupseg.cnn.engine import run_cnn
    from napari_unsupseg.cnn.train import TrainConfig
    from napari_unsupseg.transfer import engine
    from napari_unsupseg.transfer.train import AdaptConfig

    functions = [f for f in (spec.run, spec.series, spec.estimate) if f is not None]
    if spec.run is run_cnn:
        functions.append(TrainConfig)
    if spec.guided:
        functions += [engine.run_transfer, AdaptConfig]
    if spec.run.__module__ == runner.__name__:
        functions += [runner.segment_image, runner.train_and_label]
    return functions


@pytest.mark.parametrize("name", [*METHODS, GUIDED])
def test_no_engine_signature_holds_a_default_of_its_own(name):
    """A keyword default in the engine a spec runs would be a second place for it
    (``None`` for what the spec also leaves ``None``, e.g. a source image, aside)."""
    spec = get_method(name)
    declared = {**spec.defaults, **spec.fixed}
    found = [
        f"{function.__qualname__}({p.name}={p.default!r})"
        for function in _engine_functions(spec)
        for p in inspect.signature(function).parameters.values()
        if p.name in declared
        and p.default is not inspect.Parameter.empty
        and not (p.default is None and declared[p.name] is None)
    ]
    assert found == []


def _fallbacks(tree):
    """(line, name, fallback) of every ``params.get("name", fallback)`` (or settings,
    resolved) in ``tree``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("params", "settings", "resolved")
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
        ):
            try:
                fallback = ast.literal_eval(node.args[1])
            except ValueError:
                fallback = ast.unparse(node.args[1])
            yield node.lineno, node.args[0].value, fallback


def test_no_fallback_repeats_a_default_with_another_value():
    declared = _declared()
    package = Path(napari_unsupseg.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        for line, name, fallback in _fallbacks(ast.parse(path.read_text(encoding="utf-8"))):
            if name in declared and declared[name] != {fallback}:
                found.append(f"{path.relative_to(package)}:{line} {name}={fallback!r}")
    assert found == []


def test_the_static_check_catches_the_old_n_channels_fallback():
    """The memory estimate once read ``params.get("n_channels", 100)`` while ``cnn``'s
    default is 32: that line is what the check above must refuse."""
    old = ast.parse('channels = int(params.get("n_channels", 100))')
    assert list(_fallbacks(old)) == [(1, "n_channels", 100)]
    assert _declared()["n_channels"] != {100}


def test_fixed_settings_and_parameters_cover_the_cnn_engine_exactly():
    """A CNN method states every keyword of :func:`run_cnn` once: as a parameter (with
    its default) or as a fixed setting, never both, never neither."""
    from napari_unsupseg.cnn.engine import run_cnn

    keywords = {
        p.name for p in inspect.signature(run_cnn).parameters.values() if p.kind == p.KEYWORD_ONLY
    } - {"seed", "device", "reporter"}
    for name in METHODS:
        spec = get_method(name)
        if spec.run is run_cnn:
            assert set(spec.defaults).isdisjoint(spec.fixed), name
            assert set(spec.defaults) | set(spec.fixed) == keywords, name


@pytest.mark.parametrize("name", METHODS)
def test_the_dock_gives_the_engine_the_specs_defaults(name, spy, make_napari_viewer, qtbot):
    """The segmentation dock's form, left as it opens, runs the spec's defaults."""
    from napari_unsupseg._widgets.segment import SegmentWidget

    calls = spy(name)
    viewer = make_napari_viewer()
    viewer.add_image(IMAGE, name="photo", rgb=True)
    widget = SegmentWidget(viewer)
    widget._method.value = name
    widget.run()
    qtbot.waitUntil(lambda: not widget.is_running, timeout=60_000)
    assert calls["run"] == [expected(name)]


def test_the_public_functions_agree_on_the_run_keywords():
    """``transfer_labels`` states its keywords in its own signature (its docs list
    them); every keyword it shares with ``segment()`` has ``segment()``'s default, and
    ``segment_series`` binds to ``segment()``'s signature outright."""
    from napari_unsupseg import transfer_labels

    run = inspect.signature(segment).parameters
    for function in (transfer_labels, segment_series):
        for name, parameter in inspect.signature(function).parameters.items():
            if name in run and parameter.default is not inspect.Parameter.empty:
                assert parameter.default == run[name].default, (function.__name__, name)
