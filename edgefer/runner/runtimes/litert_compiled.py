"""LiteRT's CompiledModel API with hardware accelerators (device side: numpy + ai_edge_litert).

Next to the Interpreter path (litert.py): `CompiledModel.from_file(path, options=Options(
hardware_accelerators=CPU|GPU|NPU))` compiles the model for the accelerators asked for (CPU =
LiteRT's XNNPACK CPU accelerator, GPU = its ML Drift GPU accelerator over OpenCL/WebGPU, NPU =
a vendor dispatch library such as Qualcomm's, MediaTek's or Intel's, found under
ai_edge_litert/vendors/ or at --dispatch-library). Inputs and outputs are TensorBuffers; one
timed call writes the input buffers, runs, and reads the outputs back, as the interpreter path
does with set_tensor / invoke / get_tensor.

Only ai_edge_litert has this API (tflite_runtime has the Interpreter alone). An accelerator that
cannot compile the model here is an error naming the accelerators that can, unless a CPU
fallback is allowed; LiteRT's own messages (printed by its C++ core to stderr) give the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import tempfile
from typing import Any, Iterator

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.accel import LITERT_ACCELERATORS, accelerator_report, parse_litert_accelerators
from edgefer.runner.runtimes.base import Runtime, TensorInfo
from edgefer.runner.runtimes.tflite_tensors import tflite_layout, tflite_quantization


@contextlib.contextmanager
def _captured_stderr(sink: list[str]) -> Iterator[None]:
    """LiteRT's C++ core logs accelerator registration and failures to fd 2; keep that off the
    terminal and hand its error lines to the caller's message."""
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


def _reason(failure: str, log: str) -> str:
    """The most telling line: LiteRT's ERROR / └ lines (its log, then the exception) say why;
    the ones naming only a source location or an optional vendor library that did not load do not."""
    lines = [ln.strip().strip("└ ") for ln in (log + "\n" + failure).splitlines()]
    lines = [ln for ln in lines if ln and (ln.startswith("ERROR") or "ERROR:" in ln or not ln.startswith(("INFO", "WARNING")))]
    useful = [ln for ln in lines if "Could not load shared library" not in ln and not ln.endswith("]")
              and "Source Location" not in ln and not ln.startswith(("third_party", "==="))]
    text = useful[-1] if useful else failure.splitlines()[0]
    return text.split("] ", 1)[-1][:200]


class LiteRTCompiledRuntime(Runtime):
    name = "litert"

    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        try:
            import ai_edge_litert
            from ai_edge_litert import compiled_model as cm
        except ImportError:
            raise EdgeferError(
                "LiteRT's CompiledModel API needs ai_edge_litert (tflite_runtime has only the Interpreter)",
                hint="pip install ai-edge-litert, or drop --accelerator to use the interpreter",
            ) from None
        self._cm = cm
        self._version = getattr(ai_edge_litert, "__version__", "unknown")
        self.path, self.threads, self.options = path, threads, dict(options or {})
        self._requested = parse_litert_accelerators(self.options.get("accelerator") or "cpu")
        self._allow_fallback = bool(self.options.get("allow_fallback"))
        self._dispatch = self.options.get("dispatch_library")
        if self._dispatch and not os.path.exists(os.path.expanduser(self._dispatch)):
            raise EdgeferError(f"NPU dispatch library {self._dispatch} does not exist")
        self._fallbacks: list[dict[str, str]] = []
        self._model = None
        # LiteRT logs environment set-up and accelerator tear-down at INFO to fd 2 whenever its
        # objects are created or freed (also at interpreter exit): keep that off the terminal
        atexit.register(self.close)
        with _captured_stderr([]):
            self._load_model()

    def _load_model(self) -> None:
        try:
            self._check_npu()
            self._model, self._used = self._compile(self._requested), list(self._requested)
        except EdgeferError as exc:
            if not self._allow_fallback or self._requested == ["cpu"]:
                raise
            self._model, self._used = self._compile(["cpu"]), ["cpu"]
            reason = exc.one_line().split("; pass --allow-fallback")[0]
            self._fallbacks = [{"requested": ",".join(self._requested), "ran_on": "cpu", "reason": reason}]
        self._describe_tensors()

    def _check_npu(self) -> None:
        """With npu+cpu LiteRT quietly runs everything on the CPU when no NPU dispatch library
        loads: that is a missing accelerator, not a partly supported model. The wheel ships vendor
        dispatch libraries (e.g. Intel OpenVINO's) that only load where the vendor runtime is."""
        if "npu" not in self._requested:
            return
        import ctypes
        import glob

        from ai_edge_litert import environment

        where = os.path.expanduser(self._dispatch) if self._dispatch else \
            getattr(environment, "_autodiscover_dispatch_library_path", lambda: "")()
        if where and os.path.isfile(where):
            libs = [where]
        else:
            libs = sorted(glob.glob(os.path.join(where, "libLiteRtDispatch_*.so"))) if where else []
        errors = []
        for lib in libs:
            try:
                ctypes.CDLL(lib)
                return
            except OSError as exc:
                errors.append(str(exc).split(": ", 1)[-1][:160])
        why = f"its dispatch library does not load ({errors[0]})" if errors else \
            "no vendor dispatch library (libLiteRtDispatch_*.so) under ai_edge_litert/vendors and no --dispatch-library"
        raise EdgeferError(f"LiteRT accelerator NPU is not available here: {why}; available here: CPU"
                           + (", GPU" if self._compiles("gpu") else "") + "; pass --allow-fallback to run on the CPU")

    def _compile(self, accelerators: list[str]) -> Any:
        cm = self._cm
        flags = 0
        for a in accelerators:
            flags |= int(getattr(cm.HardwareAccelerator, a.upper()))
        opts = cm.Options(hardware_accelerators=cm.HardwareAccelerator(flags),
                          cpu_options=cm.CpuOptions(num_threads=int(self.threads or 0)))
        log: list[str] = []
        failure = None
        with _captured_stderr(log):
            try:
                env = None
                if self._dispatch:
                    env = cm.Environment.create(dispatch_library_path=os.path.expanduser(self._dispatch))
                return cm.CompiledModel.from_file(self.path, environment=env, options=opts)
            except (RuntimeError, ValueError) as exc:
                failure = str(exc) or type(exc).__name__
            env = None
            gc.collect()  # LiteRT's objects of the failed attempt log their tear-down: inside the capture
        if failure is not None:
            reason = _reason(failure, "".join(log))
            if accelerators == ["cpu"]:  # the CPU accelerator runs every valid model
                raise EdgeferError(f"cannot load TFLite model {os.path.basename(self.path)}: corrupt, truncated "
                                   f"or unsupported ({reason})") from None
            able = [a for a in LITERT_ACCELERATORS if a not in accelerators and self._compiles(a)]
            raise EdgeferError(
                f"LiteRT accelerator {'+'.join(a.upper() for a in accelerators)} cannot run "
                f"{os.path.basename(self.path)} here ({reason}); available here: "
                f"{', '.join(a.upper() for a in able) or 'none'}; pass --allow-fallback to run on the CPU"
            ) from None

    def _compiles(self, accelerator: str) -> bool:
        """Whether this one accelerator compiles the model here (only asked on the error path)."""
        cm = self._cm
        try:
            with _captured_stderr([]):
                cm.CompiledModel.from_file(self.path, options=cm.Options(
                    hardware_accelerators=getattr(cm.HardwareAccelerator, accelerator.upper())))
            return True
        except (RuntimeError, ValueError):
            return False

    def _describe_tensors(self) -> None:
        signatures = self._model.get_signature_list()
        if len(signatures) != 1:
            raise EdgeferError(f"{os.path.basename(self.path)} has {len(signatures)} signatures; edgefer runs one")
        self._key = next(iter(signatures))
        ins = self._model.get_input_tensor_details(self._key)
        outs = self._model.get_output_tensor_details(self._key)
        self._in_names = list(signatures[self._key]["inputs"])
        self._out_names = list(signatures[self._key]["outputs"])

        def info(d: dict[str, Any], with_layout: bool) -> TensorInfo:
            shape = [int(x) if int(x) >= 0 else None for x in d["shape"]]
            return TensorInfo(d["name"], shape, np.dtype(d["dtype"]).name,
                              tflite_layout(d["name"], shape) if with_layout else None)

        self.inputs = [info(ins[n], True) for n in self._in_names]
        self.outputs = [info(outs[n], False) for n in self._out_names]
        if any(np.dtype(t.dtype).kind in "iu" for t in (*self.inputs, *self.outputs)):
            self._add_quantization()
        self._first_run = True
        self._in_buf = self._model.create_input_buffers(0)
        self._out_buf = self._model.create_output_buffers(0)
        self._out_spec = [(int(np.prod(o.shape)), np.dtype(o.dtype), [int(d or 1) for d in o.shape]) for o in self.outputs]

    def _add_quantization(self) -> None:
        """int8 I/O: CompiledModel's tensor details carry no scale/zero point; the interpreter's do."""
        from ai_edge_litert import interpreter

        interp = interpreter.Interpreter(model_path=self.path)
        runner = interp.get_signature_runner(self._key)
        for infos, details in ((self.inputs, runner.get_input_details()), (self.outputs, runner.get_output_details())):
            by_name = {name: tflite_quantization(d) for name, d in details.items()}
            names = self._in_names if infos is self.inputs else self._out_names
            for t, name in zip(infos, names):
                t.quantization = by_name.get(name)

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        if self._first_run:  # the first run sets up LiteRT's runtime context, which logs to fd 2
            self._first_run = False
            with _captured_stderr([]):
                return self.run(feeds)
        for buf, feed in zip(self._in_buf, feeds):
            buf.write(np.ascontiguousarray(feed))
        self._model.run_by_index(0, self._in_buf, self._out_buf)
        return [buf.read(n, dt).reshape(shape) for buf, (n, dt, shape) in zip(self._out_buf, self._out_spec)]

    def version(self) -> str:
        return self._version

    def extra_description(self) -> dict[str, Any]:
        return {"delegates": [f"CompiledModel:{'+'.join(a.upper() for a in self._used)}"]}

    def accelerators(self, count_nodes: bool = True) -> dict[str, Any]:
        return accelerator_report(
            "litert", "CompiledModel", self._requested, self._used, self._allow_fallback, self._fallbacks,
            {"dispatch_library": self._dispatch} if self._dispatch else None,
            node_counts=None, node_counts_source="not exposed by LiteRT's Python API (fully_accelerated is)",
            fully_accelerated=bool(self._model.is_fully_accelerated()),
        )

    def profile_ops(self, feeds: list[np.ndarray], runs: int, warmup: int) -> dict[str, Any]:
        from edgefer.runner.opprofile import unavailable

        return unavailable(self.name, "LiteRT's CompiledModel API has no op profiler and no execution "
                                      "plan to read; without an accelerator the Interpreter reports its "
                                      "delegate partitions")

    def close(self) -> None:
        if getattr(self, "_model", None) is None:
            return
        with _captured_stderr([]):
            self._model = self._in_buf = self._out_buf = None
            gc.collect()
