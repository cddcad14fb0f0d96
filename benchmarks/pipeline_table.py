"""The docs' pipeline table: BlazeFace + a converted zoo classifier over real photos, per stage.

    python benchmarks/pipeline_table.py --classifier edgefer-out/mobilenet_v1 [--photos DIR]
        [--frames 200] [--threads 1] [--repeat 1] [--out-dir reports/]

Without --photos, four photos bundled with scikit-image are used (astronaut and camera have a
face, coffee and chelsea have none), copied into a temp folder, so acquisition is real PNG
decoding. One run per artifact in the converted directory (fp32/int8, ONNX/TFLite); prints a
Markdown table of p50 per stage (ms; crop+prep and classify per face, over frames with a face),
end-to-end p50/p99, frames/s, faces per frame and the glue share sum(glue)/sum(e2e).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

PHOTOS = ("astronaut", "camera", "coffee", "chelsea")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classifier", required=True, help="a converted directory (edgefer convert --out)")
    ap.add_argument("--photos", help="folder of images (default: scikit-image's astronaut, camera, coffee, chelsea)")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", help="also keep each report here")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runner processes per artifact (the figures are over all their frames; default 1)")
    a = ap.parse_args()

    from edgefer.convert.manifest import read_manifest
    from edgefer.pipeline import run_pipeline
    from edgefer.runner.pipeline.settings import PipelineSettings

    with tempfile.TemporaryDirectory() as tmp:
        photos = a.photos
        if photos is None:
            import skimage.data

            photos = os.path.join(tmp, "photos")
            os.makedirs(photos)
            for name in PHOTOS:
                shutil.copy(os.path.join(os.path.dirname(skimage.data.__file__), f"{name}.png"), photos)
        arts = read_manifest(a.classifier)["artifacts"]
        print("| classifier | acquire | detect | crop+prep /face | classify /face | post | e2e p50 | e2e p99 | "
              "frames/s | faces/frame | glue % |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for art in arts:
            out = os.path.join(a.out_dir, f"{art['file']}.json") if a.out_dir else None
            settings = PipelineSettings(frames=a.frames, warmup=8, threads=a.threads, energy="none")
            r = run_pipeline(a.classifier, "blazeface", photos, settings, fmt=art["format"],
                             precision=art["precision"], out=out, label=art["file"], repeat=a.repeat)
            s = r["statistics"]
            st = s["stages"]
            face = s["per_face"]
            print(f"| {art['file']} | {st['acquire']['p50_ms']:.2f} | {st['detect']['p50_ms']:.2f} | "
                  f"{face['preprocess']['p50_ms']:.3f} | {face['classify']['p50_ms']:.2f} | "
                  f"{st['postprocess']['p50_ms']:.3f} | "
                  f"{s['e2e']['p50_ms']:.2f} | {s['e2e']['p99_ms']:.2f} | {s['throughput_fps']:.1f} | "
                  f"{s['faces_per_frame']['mean']:.2f} | {100 * s['glue_share_of_e2e']:.1f} |")
        env = r["environment"]
        print(f"\n{env['cpu_model']}, {env['cpu_count']} CPUs, {r['settings']['threads']} thread(s), resize "
              f"{r['settings']['resize']}, onnxruntime {env['runtime_versions'].get('onnxruntime')}, "
              f"ai-edge-litert {env['runtime_versions'].get('ai-edge-litert')}; {s['frames']} frames per run")


if __name__ == "__main__":
    main()
