"""Which ops to keep in float: int8 with only the MAC-heavy ops quantized, vs full int8 and fp32.

    python benchmarks/int8_keep_float.py --dir DIR [--models a,b] [--quantize Conv,Gemm]
                                         [--runs 50] [--profile-runs 20] [--threads 1] [--target local]

For each model's fp32 ONNX in DIR/<model>/ (from `edgefer convert` / benchmarks/convert_zoo.py),
a second int8 model is quantized here like `edgefer convert` does (QDQ, per-channel S8 weights,
U8 activations, minmax on 32 random-pixel images) but with onnxruntime's
`op_types_to_quantize` limited to --quantize: everything else (hard-swish, squeeze-excite,
attention MatMul/Softmax ...) stays float. All three are benchmarked with `--op-profile`;
printed: timed mean, int8/fp32, Q/DQ nodes, Q/DQ and float-island shares.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from edgefer.bench.api import bench
from edgefer.convert.manifest import read_manifest
from edgefer.runner.settings import BenchSettings


def quantize_only(fp32: Path, out: Path, op_types: list[str]) -> Path:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from edgefer.convert.onnx_quant import _pre_process, _Reader

    name = onnx.load(str(fp32), load_external_data=False).graph.input[0]
    dims = [d.dim_value or 1 for d in name.type.tensor_type.shape.dim]
    calib = np.random.default_rng(0).uniform(-2, 2, size=(32, *dims[1:])).astype(np.float32)
    pre = out.with_name(out.stem + ".pre.onnx")
    _pre_process(fp32, pre)
    quantize_static(str(pre), str(out), _Reader(name.name, calib, dims[0] if dims[0] > 1 else 1),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=op_types)
    pre.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--models", default="mobilenetv3_large,mobilenet_skip_mha")
    ap.add_argument("--quantize", default="Conv,Gemm")
    ap.add_argument("--target", default="local")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--profile-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    table = Table(title=f"int8 with only {a.quantize} quantized ({a.target}, {a.threads} thread(s))")
    for col in ("model", "variant", "timed mean ms", "vs fp32", "Q/DQ nodes", "Q/DQ share", "float islands share"):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            m = read_manifest(a.dir / name)
            files = {x["precision"]: a.dir / name / x["file"] for x in m["artifacts"] if x["format"] == "onnx"}
            files["int8 " + a.quantize] = quantize_only(files["fp32"], Path(tmp) / f"{name}_int8_partial.onnx",
                                                        a.quantize.split(","))
            fp32_ms = None
            for variant, path in files.items():
                [r] = bench(str(path), BenchSettings(runs=a.runs, warmup=a.warmup, min_seconds=0.0, threads=a.threads,
                                              energy="none", op_profile=a.profile_runs), target=a.target)
                ms = r["statistics"]["mean_ms"]
                fp32_ms = ms if variant == "fp32" else fp32_ms
                q = r["op_profile"]["quantization"] or {}
                table.add_row(name, variant, f"{ms:.2f}", f"{ms / fp32_ms:.2f}" if fp32_ms else "-",
                              str(q.get("quantize_nodes", 0) + q.get("dequantize_nodes", 0)),
                              f"{q.get('qdq_share', 0):.0%}", f"{q.get('float_island_share', 0):.0%}")
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
