"""The catalogue of segmenters: every engine's :class:`MethodSpec`, by name.

Each engine declares its own specs beside its code (:mod:`napari_unsupseg.classical`,
:mod:`napari_unsupseg.cnn.specs`, :mod:`napari_unsupseg.baselines.specs`,
:mod:`napari_unsupseg.transfer.api`); this module only collects them. They are
imported on first use, so importing the package stays cheap.
"""

from __future__ import annotations

from ._spec import MethodSpec, Param

__all__ = ["MethodSpec", "Param", "available_methods", "get_method", "guided_methods"]


def available_methods() -> dict[str, MethodSpec]:
    """Every segmenter by name, in the order the widgets list them."""
    from .baselines.specs import METHODS as BASELINES
    from .classical import METHODS as CLASSICAL
    from .cnn.specs import METHODS as CNNS

    methods = {spec.name: spec for spec in (*CLASSICAL, *CNNS, *BASELINES)}
    default = methods.pop("cnn")
    return {"cnn": default, **methods}


def guided_methods() -> dict[str, MethodSpec]:
    """Methods guided by a labelled source image (label transfer), by name."""
    from .transfer.api import METHOD

    return {METHOD.name: METHOD}


def get_method(name: str) -> MethodSpec:
    methods = {**available_methods(), **guided_methods()}
    try:
        return methods[name]
    except KeyError:
        raise ValueError(
            f"unknown method {name!r}; available methods: {', '.join(methods)}"
        ) from None
