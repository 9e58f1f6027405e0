"""napari dock widgets: thin forms over :func:`napari_unsupseg.segment` and the metrics.

Each dock (``segment``, ``transfer``, ``evaluate``, ``inspect``) is a Qt form over a
Qt-free model of its run (``_segment_run``, ``_transfer_run``, ``_evaluate_run``,
``_inspect_model``, with ``_run`` and ``_worker`` shared); ``_runner`` is the shared
Qt life cycle of a run. The engine never imports napari or Qt.
"""
