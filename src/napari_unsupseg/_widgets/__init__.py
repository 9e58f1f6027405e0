"""napari dock widgets: thin front ends over :func:`napari_unsupseg.segment` and the metrics.

Only the widget modules import napari and Qt; the engine never does.
"""
