"""The FER application pipeline, device side: frame source -> face detector -> crop + classifier
preprocessing -> classifier -> postprocessing, each stage timed per frame.

Shipped to boards with the runner, so stdlib + numpy + the runtime only; OpenCV (cv2) and
Pillow are optional and probed (`imaging.cv2_module()`), needed only by the sources and the
detector that say so. The host side (report schema, rendering, compare, plot, deploy) lives
in `edgefer.pipeline`.
"""
