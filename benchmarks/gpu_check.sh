#!/usr/bin/env bash
# Benchmark a zoo model on an NVIDIA GPU with onnxruntime-gpu's CUDA and TensorRT execution
# providers in fp32 / fp16 / int8, through `edgefer bench` (so each run's report says which
# providers ran how many nodes, and any fallback), and print one markdown table.
#
#   bash benchmarks/gpu_check.sh [MODEL] [RUNS]          # default: mobilenet_v1 300
#
# Needs: an NVIDIA GPU with its driver (nvidia-smi), Python >= 3.10, and PyPI, or a directory of
# wheels in $EDGEFER_GPU_WHEELS for a machine without network (pip download them elsewhere).
# Installs into its own venv ($EDGEFER_GPU_VENV, default /tmp/edgefer-gpu-venv): onnxruntime-gpu
# with its CUDA/cuDNN wheels, TensorRT's wheel (for the TensorRT EP), edgefer's host-side
# dependencies, and torch + the converters only when the model still has to be converted
# ($EDGEFER_GPU_WORK/MODEL with a manifest.json, e.g. converted on another machine, skips that).
# edgefer itself runs from this checkout (PYTHONPATH). Nothing else in edgefer depends on this.
#
# Variants (batch 1; fp16 = the `convert --precision fp16` artifact; int8 = the static QDQ one):
#   CUDA fp32      fp32 artifact,  CUDAExecutionProvider
#   CUDA fp16      fp16 artifact,  CUDAExecutionProvider
#   CUDA int8      int8 artifact,  CUDAExecutionProvider (QDQ: mostly dequantized to float kernels)
#   TensorRT fp32  fp32 artifact,  TensorrtExecutionProvider (engine cached)
#   TensorRT fp16  fp32 artifact,  TensorrtExecutionProvider trt_fp16_enable=True
#   TensorRT int8  int8 artifact,  TensorrtExecutionProvider trt_int8_enable=True (QDQ scales)
# A missing provider is an error here (no --allow-fallback): a table row is only what really ran.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-mobilenet_v1}
RUNS=${2:-300}
VENV=${EDGEFER_GPU_VENV:-/tmp/edgefer-gpu-venv}
WORK=${EDGEFER_GPU_WORK:-/tmp/edgefer-gpu-check}
log() { echo "[gpu_check] $*" >&2; }

command -v nvidia-smi >/dev/null || { log "error: nvidia-smi not found: this script needs an NVIDIA GPU"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --no-input)
[ -n "${EDGEFER_GPU_WHEELS:-}" ] && PIP+=(--no-index --find-links "$EDGEFER_GPU_WHEELS")
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
log "installing onnxruntime-gpu (CUDA 12 + cuDNN wheels), TensorRT and edgefer's host-side dependencies"
"${PIP[@]}" "onnxruntime-gpu[cuda,cudnn]>=1.20" numpy pydantic typer rich pyyaml psutil onnx
"${PIP[@]}" tensorrt-cu12 || log "warning: TensorRT wheel not installed: the TensorRT rows will fail"
# onnxruntime-gpu loads CUDA/cuDNN from the nvidia-* wheels via preload_dlls(); TensorRT's
# libnvinfer from the tensorrt_libs wheel needs to be on the library path.
TRT_LIBS=$("$PY" -c "import os, tensorrt_libs; print(os.path.dirname(tensorrt_libs.__file__))" 2>/dev/null || true)
export LD_LIBRARY_PATH="${TRT_LIBS:+$TRT_LIBS:}${LD_LIBRARY_PATH:-}"
"$PY" -c "import onnxruntime as o; o.preload_dlls(); print('[gpu_check] onnxruntime', o.__version__, o.get_available_providers())" >&2

mkdir -p "$WORK/reports" "$WORK/trt-cache"
ART="$WORK/$MODEL"
if [ ! -f "$ART/manifest.json" ]; then
  log "installing torch and the converters (CPU is enough for converting)"
  "${PIP[@]}" torch==2.13.0 onnxscript onnxconverter-common scipy pillow
  log "converting $MODEL to ONNX fp32/int8/fp16"
  "$PY" -m edgefer convert "$MODEL" --to onnx --precision fp32,int8,fp16 --out "$ART" >&2
fi

CACHE="trt_engine_cache_enable=True;trt_engine_cache_path=$WORK/trt-cache"
bench() {  # label precision providers
  local out
  out="$WORK/reports/${1// /_}.json"
  log "bench: $1"
  "$PY" -c "import onnxruntime as o; o.preload_dlls()" 2>/dev/null || true
  "$PY" -m edgefer bench "$ART" --format onnx --precision "$2" --providers "$3" \
    --runs "$RUNS" --warmup 30 --min-seconds 5 --energy none --label "$1" --out "$out" --json >/dev/null \
    || log "FAILED: $1 (see the error above; no row for it)"
}
bench "CUDA fp32" fp32 "cuda,cpu"
bench "CUDA fp16" fp16 "cuda,cpu"
bench "CUDA int8" int8 "cuda,cpu"
bench "TensorRT fp32" fp32 "tensorrt:$CACHE,cuda,cpu"
bench "TensorRT fp16" fp32 "tensorrt:trt_fp16_enable=True;$CACHE,cuda,cpu"
bench "TensorRT int8" int8 "tensorrt:trt_int8_enable=True;trt_fp16_enable=True;$CACHE,cuda,cpu"

"$PY" - "$WORK/reports" "$MODEL" <<'PYTABLE'
import json, sys, time
from pathlib import Path
rows = []
for f in sorted(Path(sys.argv[1]).glob("*.json")):
    r = json.loads(f.read_text())
    s, a = r["statistics"], r.get("accelerators") or {}
    nodes = ", ".join(f"{k.replace('ExecutionProvider', '')} {v}" for k, v in (a.get("node_counts") or {}).items())
    fb = "; ".join(f"{x['requested']}->{x['ran_on']}" for x in a.get("fallbacks", [])) or "-"
    rows.append((r["label"], r["artifact"]["file"], s["p50_ms"], s["p99_ms"], s["throughput_sps"], nodes, fb))
env = r["environment"] if rows else {}
print(f"# {sys.argv[2]} on {env.get('cpu_model', '?')} + GPU (nvidia-smi above), {time.strftime('%Y-%m-%d')}, "
      f"onnxruntime {(env.get('runtime_versions') or {}).get('onnxruntime')}")
print("| variant | artifact | p50 ms | p99 ms | images/s | nodes per provider | fallback |")
print("|---|---|---:|---:|---:|---|---|")
for row in rows:
    print(f"| {row[0]} | {row[1]} | {row[2]:.3f} | {row[3]:.3f} | {row[4]:.0f} | {row[5]} | {row[6]} |")
PYTABLE
