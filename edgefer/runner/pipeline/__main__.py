"""`python -m edgefer.runner.pipeline probe|run` (also `python -m edgefer.runner pipeline ...`):
the device side of `edgefer pipeline`. Plain argparse; exit 0 ok, 2 user error (one line
"error: ..."), 1 partial report (interrupted or crashed mid-run; the frames so far are in --out).
"""

from __future__ import annotations

import argparse
import json
import sys

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline.settings import PipelineSettings


def _probe() -> dict:
    from edgefer.runner import envinfo
    from edgefer.runner.pipeline import imaging

    cv2 = imaging.cv2_module()
    return {"numpy": envinfo.module_version("numpy"),
            "runtimes": {m.replace("-", "_"): envinfo.module_version(m)
                         for m in ("onnxruntime", "ai-edge-litert", "tflite-runtime")},
            "cv2": getattr(cv2, "__version__", None), "pil": envinfo.module_version("pillow"),
            "emulated": envinfo.emulation()[0]}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgefer.runner.pipeline", description="edgefer FER pipeline (device side)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe", help="print numpy/runtime/OpenCV/Pillow versions as JSON")
    r = sub.add_parser("run", help="run the pipeline and write a report")
    r.add_argument("--classifier", required=True)
    r.add_argument("--detector", required=True)
    r.add_argument("--source", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--frames", type=int)
    r.add_argument("--fps", type=float)
    r.add_argument("--duration", type=float)
    r.add_argument("--warmup", type=int, default=PipelineSettings.default("warmup"))
    r.add_argument("--threads", type=int)
    r.add_argument("--runtime")
    r.add_argument("--resize", default=PipelineSettings.default("resize"))
    r.add_argument("--nms", default=PipelineSettings.default("nms"))
    r.add_argument("--crop-margin", type=float, default=PipelineSettings.default("crop_margin"))
    r.add_argument("--energy", default=PipelineSettings.default("energy"))
    r.add_argument("--precision")
    r.add_argument("--source-note")
    r.add_argument("--target-json")
    r.add_argument("--pid-file", help="write this process's pid here (the host stops a run through it)")
    r.add_argument("--progress", choices=("none", "jsonl"), default="none",
                   help="jsonl: a progress event on stderr about twice a second")
    return p


def _jsonl_progress(frames: int, elapsed_ns: int) -> None:
    print(json.dumps({"event": "pipeline_progress", "frames": frames, "elapsed_s": round(elapsed_ns / 1e9, 3)}),
          file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from edgefer.runner.options import print_json, run_command

    a = _parser().parse_args(argv)
    return run_command(lambda: print_json(_probe()) if a.cmd == "probe" else _run(a), "before any frame was timed")


def _run(a: argparse.Namespace) -> int:
    from edgefer.runner.files import pid_file, write_json_atomic
    from edgefer.runner.pipeline.session import run_pipeline_session

    try:
        target = json.loads(a.target_json) if a.target_json else None
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"--target-json is not valid JSON: {exc}") from None
    with pid_file(a.pid_file):
        report = run_pipeline_session(
            a.classifier, a.detector, a.source, PipelineSettings.from_namespace(a), target=target,
            source_note=a.source_note, on_progress=_jsonl_progress if a.progress == "jsonl" else None)
        write_json_atomic(a.out, report)
    return 1 if report["partial"] else 0

if __name__ == "__main__":
    sys.exit(main())
