"""`edgefer pipeline`, host side: the FER application (face detection -> crop -> classify) run
locally or on a board, its versioned report, rendering, stage-by-stage comparison and the
sustained-run plot. The per-frame work itself is device-side code in edgefer.runner.pipeline.
"""

from edgefer.pipeline.api import run_pipeline

__all__ = ["run_pipeline"]
