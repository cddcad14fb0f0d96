#!/usr/bin/env bash
# Build the emulated aarch64 board used by targets/qemu-aarch64*.yaml:
#   an arm64 Debian 12 sysroot (mmdebstrap) + the pinned aarch64 wheels of
#   requirements-aarch64.txt + wrappers running its python3.11 under qemu-aarch64-static.
#
#   bash cross/setup-qemu-aarch64.sh           # build, or do nothing if up to date
#   bash cross/setup-qemu-aarch64.sh --force   # rebuild
#
# With qemu-user (the dynamic qemu-aarch64, which can load TCG plugins) and gcc, it also builds
# the instruction-count plugin (cross/icount-plugin) and one counting wrapper per CPU,
# python-<cpu>-icount (see docs/instruction-counts.md).
#
# Needs: qemu-user-static, mmdebstrap (apt), network access to the Debian mirror and PyPI,
# root or unprivileged user namespaces (mmdebstrap's auto mode). Output: $EDGEFER_QEMU_DIR (default
# ~/.cache/edgefer/qemu-aarch64, ~400 MB). The profiles name the wrappers by that default path.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BOARD=${EDGEFER_QEMU_DIR:-$HOME/.cache/edgefer/qemu-aarch64}
REQ="$HERE/requirements-aarch64.txt"
# The tflite-runtime view: the last aarch64 cp311 tflite-runtime wheel (2.14) and the numpy < 2
# it was built against, in a site dir of its own (the main site has numpy 2 and ai-edge-litert).
REQ_TFLITE_RUNTIME="$HERE/requirements-aarch64-tflite-runtime.txt"
PY=${PYTHON:-python3}
export PIP_ROOT_USER_ACTION=ignore
force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "[qemu-aarch64] $*" >&2; }
die() { log "error: $*"; exit 2; }

for tool in qemu-aarch64-static mmdebstrap; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y qemu-user-static mmdebstrap"
done

# The stamp covers everything the board is built from: rebuild when any of it changes.
stamp=$(cat "$0" "$REQ" "$REQ_TFLITE_RUNTIME" "$HERE"/icount-plugin/* | sha256sum | cut -c1-16)
if [ "$force" = 0 ] && [ -f "$BOARD/.stamp" ] && [ "$(cat "$BOARD/.stamp")" = "$stamp" ]; then
  log "up to date: $BOARD"
  exit 0
fi
started=$(date +%s)
mkdir -p "$BOARD"
rm -f "$BOARD/.stamp"

# 1. arm64 sysroot: python3.11 plus the C++ runtime numpy/onnxruntime link against.
if [ ! -x "$BOARD/sysroot/usr/bin/python3.11" ] || [ "$force" = 1 ]; then
  log "building the arm64 sysroot (mmdebstrap)"
  rm -rf "$BOARD/sysroot" "$BOARD/sysroot.tmp"
  mmdebstrap --quiet --variant=extract --arch=arm64 \
    --include=python3.11,libstdc++6,libgcc-s1,zlib1g bookworm "$BOARD/sysroot.tmp"
  mv "$BOARD/sysroot.tmp" "$BOARD/sysroot"
fi

# 2. Per-CPU views of the sysroot. qemu-user looks paths up under QEMU_LD_PREFIX first, so
#    a proc/cpuinfo there is what the guest reads: onnxruntime (cpuinfo library) segfaults
#    on import under qemu 7.2 without an ARM one. Each view symlinks the shared sysroot
#    and adds its own cpuinfo (part 0xd08 = Cortex-A72, 0xd0b = Cortex-A76).
make_view() {  # name part features
  local view="$BOARD/root-$1"
  rm -rf "$view"
  mkdir -p "$view/proc"
  for entry in "$BOARD/sysroot"/*; do
    [ "$(basename "$entry")" = proc ] || ln -s "$entry" "$view/$(basename "$entry")"
  done
  cat > "$view/proc/cpuinfo" <<CPUINFO
processor	: 0
BogoMIPS	: 100.00
Features	: $3
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: $2
CPU revision	: 0

CPUINFO
}
make_view cortex-a72 0xd08 "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
make_view cortex-a76 0xd0b "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"

# 3. aarch64 wheels, installed into a plain directory put on the guest's PYTHONPATH.
platforms=(--platform manylinux2014_aarch64)
for v in 17 26 27 28 31 34 35 36; do platforms+=(--platform "manylinux_2_${v}_aarch64"); done
log "fetching aarch64 wheels"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" \
  --python-version 3.11 --implementation cp -d "$BOARD/wheels" -r "$REQ"
log "installing them into $BOARD/site"
rm -rf "$BOARD/site"
"$PY" -m pip install --quiet --no-deps --no-index --find-links "$BOARD/wheels" --only-binary=:all: \
  "${platforms[@]}" --python-version 3.11 --implementation cp --target "$BOARD/site" -r "$REQ"

# 3b. The same for the tflite-runtime view (site-tflite-runtime): no onnxruntime, no ai-edge-litert.
log "fetching and installing the tflite-runtime view's wheels into $BOARD/site-tflite-runtime"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" \
  --python-version 3.11 --implementation cp -d "$BOARD/wheels-tflite-runtime" -r "$REQ_TFLITE_RUNTIME"
rm -rf "$BOARD/site-tflite-runtime"
"$PY" -m pip install --quiet --no-deps --no-index --find-links "$BOARD/wheels-tflite-runtime" --only-binary=:all: \
  "${platforms[@]}" --python-version 3.11 --implementation cp --target "$BOARD/site-tflite-runtime" -r "$REQ_TFLITE_RUNTIME"

# 4. One wrapper per CPU model: the target profiles' `python` command. Absolute paths only:
#    an sshd session's PATH is minimal.
QEMU=$(command -v qemu-aarch64-static)
make_wrapper() {  # cpu [view suffix, e.g. -tflite-runtime: python-<cpu><suffix> using site<suffix>]
  local w="$BOARD/python-$1${2:-}" site="$BOARD/site${2:-}"
  cat > "$w" <<WRAPPER
#!/bin/sh
# Emulated aarch64 python ($1), generated by cross/setup-qemu-aarch64.sh.
# EDGEFER_EMULATED makes the runner label every report as emulated.
export QEMU_LD_PREFIX='$BOARD/root-$1' QEMU_CPU='$1'
export EDGEFER_EMULATED='qemu-aarch64 ($1)'
export PYTHONPATH="\${PYTHONPATH:+\$PYTHONPATH:}$site" PYTHONNOUSERSITE=1
unset PYTHONHOME
exec '$QEMU' '$BOARD/sysroot/usr/bin/python3.11' "\$@"
WRAPPER
  chmod +x "$w"
}
make_wrapper cortex-a72
make_wrapper cortex-a76
make_wrapper cortex-a72 -tflite-runtime

# 4b. Instruction counting: the plugin, built against the dynamic qemu-aarch64 (qemu-user; the
#     static one cannot dlopen plugins), and python-<cpu>-icount wrappers loading it. The
#     wrappers are written even when the plugin could not be built: they then say what to run.
build_icount() {
  local src="$HERE/icount-plugin" so="$BOARD/icount/libedgefer-icount.so"
  rm -rf "$BOARD/icount"
  mkdir -p "$BOARD/icount"
  if ! command -v qemu-aarch64 >/dev/null || ! command -v gcc >/dev/null; then
    log "instruction counting skipped: needs qemu-user and gcc (apt-get install -y qemu-user gcc)"
    return 0
  fi
  gcc -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden -o "$so.tmp" "$src/icount.c" -lpthread
  mv "$so.tmp" "$so"
  qemu-aarch64 --version | head -n1 > "$BOARD/icount/qemu-version"
  log "instruction-count plugin built for $(cat "$BOARD/icount/qemu-version")"
}
make_icount_wrapper() {  # cpu
  local w="$BOARD/python-$1-icount" so="$BOARD/icount/libedgefer-icount.so"
  local qemu_dyn; qemu_dyn=$(command -v qemu-aarch64 || echo /usr/bin/qemu-aarch64)
  # Host address-space randomisation moves the guest's heap and libraries from run to run, and
  # address-dependent work (hashing by id, alignment fix-ups) with them: counted with it off.
  local norand="" aslr=on
  if setarch "$(uname -m)" -R true 2>/dev/null; then norand="setarch $(uname -m) -R "; aslr=off; fi
  cat > "$w" <<WRAPPER
#!/bin/sh
# Emulated aarch64 python ($1) with guest instructions counted, generated by
# cross/setup-qemu-aarch64.sh: the dynamic qemu-aarch64 loads the edgefer-icount plugin.
# EDGEFER_ICOUNT_OUT: where the plugin writes counts (%p = process id); the runner reads it.
# EDGEFER_ICOUNT_MODE: tb (one inline add per translated block, default) or insn (per instruction).
# A fixed PYTHONHASHSEED (default 0) keeps the interpreter's own work the same from run to run;
# OPENBLAS_NUM_THREADS=1 and ORT_DISABLE_TELEMETRY=1 keep numpy and onnxruntime from starting
# background threads: there is one counter for all threads, so the guest must run only one.
if [ ! -x '$qemu_dyn' ] || [ ! -f '$so' ]; then
  echo "error: instruction counting is not set up on this board (needs qemu-user, gcc and the plugin $so): run apt-get install -y qemu-user gcc && bash cross/setup-qemu-aarch64.sh (or bash .ci/setup-board.sh)" >&2
  exit 2
fi
export EDGEFER_ICOUNT_OUT="\${EDGEFER_ICOUNT_OUT:-\${TMPDIR:-/tmp}/edgefer-icount-%p.json}"
case "\$EDGEFER_ICOUNT_OUT" in *,*) echo "error: EDGEFER_ICOUNT_OUT must not contain a comma" >&2; exit 2;; esac
export EDGEFER_ICOUNT_MODE="\${EDGEFER_ICOUNT_MODE:-tb}"
export EDGEFER_ICOUNT_QEMU='$(cat "$BOARD/icount/qemu-version" 2>/dev/null)'
export EDGEFER_ICOUNT_ASLR='$aslr'
export QEMU_LD_PREFIX='$BOARD/root-$1' QEMU_CPU='$1'
export EDGEFER_EMULATED='qemu-aarch64 ($1)'
export PYTHONHASHSEED="\${PYTHONHASHSEED:-0}"
export OPENBLAS_NUM_THREADS="\${OPENBLAS_NUM_THREADS:-1}"  # numpy's BLAS: no idle worker thread
export ORT_DISABLE_TELEMETRY=1  # onnxruntime >= 1.29 on Linux: else a telemetry thread runs (and counts) at random times
export PYTHONDONTWRITEBYTECODE=1  # the first run after a deploy would write .pyc files, later ones not: other heap
export PYTHONPATH="\${PYTHONPATH:+\$PYTHONPATH:}$BOARD/site" PYTHONNOUSERSITE=1
unset PYTHONHOME
exec $norand'$qemu_dyn' -plugin "$so,out=\$EDGEFER_ICOUNT_OUT,mode=\$EDGEFER_ICOUNT_MODE" '$BOARD/sysroot/usr/bin/python3.11' "\$@"
WRAPPER
  chmod +x "$w"
}
build_icount
make_icount_wrapper cortex-a72
make_icount_wrapper cortex-a76

# 5. Smoke test: the imports the runner needs, on the emulated CPU.
for cpu in cortex-a72 cortex-a76; do
  "$BOARD/python-$cpu" -c 'import platform, numpy, onnxruntime, ai_edge_litert, psutil; print(platform.machine(), "numpy", numpy.__version__, "onnxruntime", onnxruntime.__version__)' \
    | sed "s/^/[qemu-aarch64] $cpu: /" >&2
done

"$BOARD/python-cortex-a72-tflite-runtime" -c 'import platform, numpy, tflite_runtime, psutil; print(platform.machine(), "numpy", numpy.__version__, "tflite_runtime", tflite_runtime.__version__)' \
  | sed "s/^/[qemu-aarch64] cortex-a72-tflite-runtime: /" >&2
# 5b. The plugin loads (QEMU accepts its API version 1) and counts a marked region.
if [ -f "$BOARD/icount/libedgefer-icount.so" ]; then
  probe="$BOARD/icount/smoke-%p.json"
  EDGEFER_ICOUNT_OUT="$probe" "$BOARD/python-cortex-a72-icount" -c 'import os
for cmd in (1, 2, 3):
    try: os.lseek(-1, 0x45444745464552, 0x49430000 | cmd)
    except OSError: pass
import glob; print(open(glob.glob(os.environ["EDGEFER_ICOUNT_OUT"].replace("%p", "*"))[0]).read().strip())' \
    | sed "s/^/[qemu-aarch64] icount: /" >&2
  rm -f "$BOARD"/icount/smoke-*.json
fi

echo "$stamp" > "$BOARD/.stamp"
log "ready in $(( $(date +%s) - started )) s: $BOARD ($(du -sh "$BOARD" | cut -f1))"
