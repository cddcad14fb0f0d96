"""The settings of one pipeline repeat: one frozen struct, validated once, carried to the runner as
flags (device side, stdlib only).

The pipeline's counterpart of `BenchSettings` (edgefer.runner.settings), built the same way and
sharing its range checks: the host builds it from the command's options (`edgefer pipeline`'s
Typer defaults and the runner's argparse defaults are read from its fields), `validate()`s it
before any work, hands it to the runner as `to_argv()`, and the runner reads it back with
`from_namespace()`. It is a type of its own because its fields mean other things: `warmup`
counts untimed frames (bench's counts inference calls), and energy is a per-second power
timeline with no idle baseline and no estimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.runner.settings import MAX_SECONDS, MAX_THREADS, PRECISIONS, check_number, parse_json_option

RESIZE_BACKENDS = ("auto", "numpy", "cv2")  # auto: OpenCV where installed
NMS_MODES = ("weighted", "plain")  # BlazeFace: MediaPipe's weighted merge, or plain NMS
ENERGY_MODES = ("auto", "none")  # a meter spec (dict) on the runner's side


@dataclass(frozen=True)
class PipelineSettings:
    frames: int | None = None  # None with duration_s None: the runner's DEFAULT_FRAMES
    fps: float | None = None  # camera-paced at this rate; None: free-running
    duration_s: float | None = None
    warmup: int = 3  # untimed frames through every stage before the clock starts
    threads: int | None = None
    runtime: str | None = None
    resize: str = "auto"
    nms: str = "weighted"  # BlazeFace's box merging
    crop_margin: float = 0.1
    energy: str | dict[str, Any] | None = "auto"
    precision: str | None = None

    @staticmethod
    def default(name: str) -> Any:
        """A field's default: what the CLI and the runner's argparse show and use."""
        return next(f.default for f in fields(PipelineSettings) if f.name == name)

    def validate(self) -> "PipelineSettings":
        """Every setting in range (NaN and inf included), one line naming the option; before any work."""
        if self.frames is not None and (isinstance(self.frames, bool) or not isinstance(self.frames, int)
                                        or self.frames < 1):
            raise EdgeferError(f"--frames must be an integer >= 1, got {self.frames!r}")
        if self.fps is not None:
            check_number("--fps", self.fps, 0, 1000, False)
            if self.fps <= 0:
                raise EdgeferError(f"--fps must be in (0, 1000], got {self.fps}")
        if self.duration_s is not None:
            check_number("--duration", self.duration_s, 0, MAX_SECONDS, False)
            if self.duration_s <= 0:
                raise EdgeferError(f"--duration must be > 0 seconds, got {self.duration_s}")
        if self.fps is not None and self.duration_s is None and self.frames is None:
            raise EdgeferError("--fps needs --duration (or --frames): how long should the camera run?")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise EdgeferError(f"--warmup must be an integer >= 0, got {self.warmup!r}")
        check_number("--crop-margin", self.crop_margin, 0, 2, False)
        if self.threads is not None:
            check_number("--threads", self.threads, 1, MAX_THREADS, True)
        for flag, value, choices in (("--resize", self.resize, RESIZE_BACKENDS), ("--nms", self.nms, NMS_MODES)):
            if value not in choices:
                raise EdgeferError(f"invalid {flag} {value!r} (choose from: {', '.join(choices)})")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise EdgeferError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if isinstance(self.energy, str) and self.energy not in ENERGY_MODES:
            raise EdgeferError(f"invalid --energy '{self.energy}' (choose from: {', '.join(ENERGY_MODES)})")
        return self

    def with_(self, **changes: Any) -> "PipelineSettings":
        return replace(self, **changes)

    def to_argv(self) -> list[str]:
        """The pipeline runner's `run` flags for these settings (unset values left out)."""
        args: list[str] = []
        for flag, value in (("--frames", self.frames), ("--fps", self.fps), ("--duration", self.duration_s),
                            ("--warmup", self.warmup), ("--threads", self.threads), ("--runtime", self.runtime),
                            ("--resize", self.resize), ("--nms", self.nms), ("--crop-margin", self.crop_margin),
                            ("--precision", self.precision)):
            if value is not None:
                args += [flag, str(value)]
        energy = self.energy if self.energy is not None else "none"
        args += ["--energy", json.dumps(energy, separators=(",", ":")) if isinstance(energy, dict) else str(energy)]
        return args

    @classmethod
    def from_namespace(cls, ns: Any) -> "PipelineSettings":
        """From the pipeline runner's parsed arguments."""
        energy: Any = ns.energy
        if isinstance(energy, str) and energy.strip().startswith("{"):
            energy = parse_json_option(energy, "--energy")
        return cls(frames=ns.frames, fps=ns.fps, duration_s=ns.duration, warmup=ns.warmup, threads=ns.threads,
                   runtime=ns.runtime, resize=ns.resize, nms=ns.nms, crop_margin=ns.crop_margin, energy=energy,
                   precision=ns.precision)
