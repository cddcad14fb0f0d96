"""Pydantic schema of a target profile (targets/*.yaml).

A profile is data: everything edgefer needs to know about a board (CPU, accelerators,
how to reach it, the python command on it, runtime preferences, energy meter, bench
defaults). Unknown keys are rejected (`extra="forbid"`) so a typo in a YAML file is an
error naming the field, not a silently ignored setting.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

# /proc/cpuinfo spells the same capability several ways; profiles may use any of them and
# the rest of edgefer asks one canonical name (`target.cpu.has("asimddp")`).
FEATURE_ALIASES = {
    "dotprod": "asimddp",
    "asimd": "neon",
    "asimdhp": "fp16",
    "fphp": "fp16",
    "avx512vnni": "avx512_vnni",
    "avxvnni": "avx_vnni",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cluster(_Strict):
    """One group of identical cores (big.LITTLE / DynamIQ cluster)."""

    core: str = Field(description="Core design, e.g. 'Cortex-A76'.")
    count: int = Field(ge=1)
    max_mhz: int | None = Field(default=None, ge=1)
    cpus: list[int] | None = Field(default=None, description="Linux CPU numbers of this cluster, for pinning.")
    # Nominal SIMD peak per core, for the report's roofline headroom ("computed from nominal specs").
    fp32_macs_per_cycle: float | None = Field(
        default=None, gt=0, description="Peak fp32 multiply-accumulates per cycle per core (FMA lanes x pipes).")
    int8_macs_per_cycle: float | None = Field(
        default=None, gt=0, description="Peak int8 multiply-accumulates per cycle per core (e.g. SDOT lanes x pipes).")
    simd_source: str | None = Field(default=None, description="Where the per-cycle figures come from.")

    @model_validator(mode="after")
    def _peak_has_source(self) -> Cluster:
        if (self.fp32_macs_per_cycle or self.int8_macs_per_cycle) and not (self.simd_source and self.max_mhz):
            raise ValueError("fp32/int8_macs_per_cycle need simd_source (where the figure comes from) and max_mhz")
        return self


class CPU(_Strict):
    model: str = Field(description="SoC / CPU name, e.g. 'Broadcom BCM2712 (4x Cortex-A76)'.")
    cores: int = Field(ge=1)
    clusters: list[Cluster] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list, description="ISA features: neon, asimddp, fp16, i8mm, avx2 ...")

    @field_validator("features")
    @classmethod
    def _canonical_features(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for f in v:
            name = FEATURE_ALIASES.get(f.strip().lower(), f.strip().lower())
            if name not in out:
                out.append(name)
        return out

    @model_validator(mode="after")
    def _clusters_add_up(self) -> CPU:
        if self.clusters and sum(c.count for c in self.clusters) != self.cores:
            raise ValueError(f"clusters add up to {sum(c.count for c in self.clusters)} cores, cores is {self.cores}")
        return self

    def has(self, feature: str) -> bool:
        return FEATURE_ALIASES.get(feature.lower(), feature.lower()) in self.features


def _provider_name(name: str) -> str:
    """onnxruntime's name for `name`; an unknown one is a validation error naming the field."""
    from edgefer.errors import EdgeferError
    from edgefer.runner.accel import canonical_provider

    try:
        return canonical_provider(name)
    except EdgeferError as exc:
        raise ValueError(exc.one_line()) from None


class Accelerator(_Strict):
    type: Literal["gpu", "npu", "dsp"]
    name: str
    precisions: list[Literal["fp32", "fp16", "bf16", "int8", "int4"]] = Field(default_factory=list)
    reached_by: list[str] = Field(
        default_factory=list,
        description="What runs models on it: onnxruntime provider names/aliases (tensorrt, cuda, qnn) and "
                    "LiteRT accelerators as litert:gpu / litert:npu.",
    )
    notes: str | None = None

    @field_validator("reached_by")
    @classmethod
    def _known_routes(cls, v: list[str]) -> list[str]:
        from edgefer.runner.accel import LITERT_ACCELERATORS

        out = []
        for route in v:
            if route.lower().startswith("litert:"):
                if route[7:].lower() not in LITERT_ACCELERATORS:
                    raise ValueError(f"unknown LiteRT accelerator in {route!r} (litert:cpu|gpu|npu)")
                out.append(route.lower())
            else:
                out.append(_provider_name(route))
        return out


class LocalConnection(_Strict):
    type: Literal["local"]


class SSHConnection(_Strict):
    type: Literal["ssh"]
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    key: str | None = Field(default=None, description="Private key file on the host (~ and $VARS expanded).")
    known_hosts: str | None = Field(
        default=None, description="known_hosts file pinning the board's host key; default: ssh's own (~/.ssh/known_hosts)."
    )
    jump: str | None = Field(default=None, description="Jump host for ssh -J, e.g. 'user@bastion:22'.")
    strict_host_key_checking: bool = Field(default=True, description="Refuse unknown or changed host keys.")
    connect_timeout_s: int = Field(default=10, ge=1)

    @field_validator("host", "user", "jump")
    @classmethod
    def _no_option_injection(cls, v: str | None) -> str | None:
        # ssh would read a leading '-' as an option; whitespace never belongs in these.
        if v is not None and (v.startswith("-") or any(ch.isspace() for ch in v)):
            raise ValueError(f"{v!r} must not start with '-' or contain whitespace")
        return v


class ADBConnection(_Strict):
    type: Literal["adb"]
    serial: str | None = Field(default=None, description="adb -s SERIAL; None = the only device attached.")


class LabgridConnection(_Strict):
    """A board in a labgrid lab: the place (or any free place with `tags`) is reserved and acquired
    for the run; its NetworkService resource gives address, username and port, and the SSH
    settings here say how to log in (edgefer.lab)."""

    type: Literal["labgrid"]
    coordinator: str = Field(min_length=1, description="labgrid-coordinator HOST[:PORT] (port 20408 by default); $VARS expanded.")
    place: str | None = Field(default=None, min_length=1, description="Place name.")
    tags: dict[str, str] | None = Field(default=None, description="Any free place whose tags include these, e.g. {board: rpi4}.")
    acquire_timeout_s: float = Field(default=300.0, ge=0, description="How long to wait for a place someone else holds.")
    resource: str | None = Field(default=None, description="Name of the NetworkService when the place has several.")
    user: str | None = Field(default=None, description="SSH user; default: the NetworkService's username.")
    key: str | None = Field(default=None, description="Private key file on the host (~ and $VARS expanded).")
    known_hosts: str | None = Field(default=None, description="known_hosts file pinning the boards' host keys.")
    jump: str | None = Field(default=None, description="Jump host for ssh -J (default: labgrid's proxy if "
        "the resource needs one).")
    strict_host_key_checking: bool = True
    connect_timeout_s: int = Field(default=10, ge=1)

    @field_validator("user", "jump")
    @classmethod
    def _no_option_injection(cls, v: str | None) -> str | None:
        if v is not None and (v.startswith("-") or any(ch.isspace() for ch in v)):
            raise ValueError(f"{v!r} must not start with '-' or contain whitespace")
        return v

    @model_validator(mode="after")
    def _place_or_tags(self) -> LabgridConnection:
        if (self.place is None) == (not self.tags):
            raise ValueError("give exactly one of place or tags")
        return self


Connection = Annotated[Union[LocalConnection, SSHConnection, ADBConnection, LabgridConnection],
                       Field(discriminator="type")]


class ProviderEntry(_Strict):
    """An execution provider with its options (onnxruntime's provider_options, as strings)."""

    name: str
    options: dict[str, str | bool | int | float] = Field(default_factory=dict)


class OnnxRuntimePrefs(_Strict):
    providers: list[str | ProviderEntry] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description="In order of preference; names, aliases (cuda, tensorrt, qnn, xnnpack) or {name, options}.",
    )
    requires: str | None = Field(
        default=None, description="The onnxruntime build these providers need, e.g. JetPack's onnxruntime-gpu."
    )
    allow_fallback: bool = Field(default=False, description="Run on the CPU when a provider is missing (recorded).")
    int8_activation: Literal["U8", "S8"] | None = Field(
        default=None, description="Activation type for static int8; None = derived from the CPU (see int8_activation_type)."
    )

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, v: list) -> list:
        for entry in v:
            _provider_name(entry.name if isinstance(entry, ProviderEntry) else entry.split(":")[0])
        return v

    def provider_specs(self) -> list[str]:
        """The runner's wire format, NAME[:k=v;k=v] (edgefer.runner.accel.parse_providers)."""
        from edgefer.runner.accel import provider_spec_text

        return [provider_spec_text(e.name, e.options) if isinstance(e, ProviderEntry) else e for e in self.providers]


class TFLitePrefs(_Strict):
    threads: int | None = Field(default=None, ge=1)
    xnnpack: bool = True
    accelerator: list[Literal["cpu", "gpu", "npu"]] | None = Field(
        default=None, description="LiteRT CompiledModel accelerators (e.g. [gpu, cpu]); None = the Interpreter path."
    )
    dispatch_library: str | None = Field(default=None, description="NPU vendor dispatch library (dir or .so) on the device.")
    allow_fallback: bool = Field(default=False, description="Run on the CPU when the accelerator is missing (recorded).")


class RuntimePrefs(_Strict):
    onnxruntime: OnnxRuntimePrefs = Field(default_factory=OnnxRuntimePrefs)
    tflite: TFLitePrefs = Field(default_factory=TFLitePrefs)


MeterType = Literal["rapl", "hwmon", "vcgencmd", "android", "external", "none"]


class EnergySpec(_Strict):
    """Energy meter on the device; passed to the runner as `--energy <json>`."""

    type: MeterType = "none"
    sysfs_root: str | None = Field(default=None, description="rapl/hwmon/android: sysfs directory of the sensor.")
    rail: str | None = Field(default=None, description="hwmon/vcgencmd: rail label to read, e.g. VDD_IN.")
    command: list[str] | None = Field(default=None, description="vcgencmd/external: command printing readings.")
    sample_rate_hz: float = Field(default=10.0, gt=0)
    nominal_power_w: float | None = Field(
        default=None, gt=0, description="Board power under load, for estimates labelled 'estimated' (never 'measured')."
    )
    notes: str | None = None

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, v: object) -> object:
        return shlex.split(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _required_params(self) -> EnergySpec:
        need = {"hwmon": ("sysfs_root",), "android": ("sysfs_root",), "vcgencmd": ("command",), "external": ("command",)}
        missing = [f for f in need.get(self.type, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"energy type {self.type!r} needs {', '.join(missing)}")
        return self

    def meter_spec(self) -> dict:
        """The JSON-able spec the device-side meter receives (no None values)."""
        return self.model_dump(exclude_none=True)


class BenchDefaults(_Strict):
    warmup: int = Field(default=10, ge=0)
    runs: int = Field(default=100, ge=1)
    min_seconds: float = Field(default=2.0, ge=0)
    threads: int | None = Field(default=None, ge=1, le=256)
    cpus: list[int] | None = Field(default=None, description="CPU numbers to pin the benchmark to.")
    cooldown_s: float = Field(default=0.0, ge=0)
    # Between-run variance dominates on every machine measured so far: a report needs several
    # independent processes to estimate it (see docs/statistics.md for how the defaults were chosen).
    repeat: int = Field(default=5, ge=1, le=1000, description="Repeats: independent runner processes per artifact.")
    lock_timeout_s: float = Field(default=600.0, ge=0, description="How long a bench waits for a busy board.")
    # Repeats of one bench run back to back and cannot see drift over minutes (VM neighbours,
    # thermal state): the between-session CV of the p50, measured with benchmarks/aa_false_alarms.py,
    # is added to every interval (edgefer/runner/hierarchical.py). None: repeats only.
    session_cv: float | None = Field(default=None, ge=0, le=1, description="Between-session CV of the p50.")
    session_cv_source: str | None = Field(default=None, description="How session_cv was measured.")


class InstructionCountSpec(_Strict):
    """How to count guest instructions on an emulated board (docs/instruction-counts.md)."""

    python: list[str] = Field(description="Command running python under the emulator with the counting plugin.")
    default: bool = Field(default=False, description="Count on every bench of this target (as --count-instructions).")

    @field_validator("python", mode="before")
    @classmethod
    def _split_python(cls, v: object) -> object:
        return shlex.split(v) if isinstance(v, str) else v


class Target(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    board: str | None = None
    description: str | None = None
    arch: Literal["aarch64", "x86_64"]
    emulated: bool = False
    emulator: str | None = Field(default=None, description="e.g. 'qemu-aarch64 (cortex-a72)'; required when emulated.")
    cpu: CPU
    accelerators: list[Accelerator] = Field(default_factory=list)
    connection: Connection = Field(default_factory=lambda: LocalConnection(type="local"))
    python: list[str] = Field(default_factory=lambda: ["python3"], description="Command running python on the device.")
    workdir: str = Field(
        default="~/.cache/edgefer/device",
        description="Where deploy puts files on the device; a leading ~/ means the device user's home.",
    )
    runtimes: RuntimePrefs = Field(default_factory=RuntimePrefs)
    energy: EnergySpec = Field(default_factory=EnergySpec)
    bench: BenchDefaults = Field(default_factory=BenchDefaults)
    sources: list[str] = Field(default_factory=list, description="Where the hardware facts come from.")
    instruction_counts: InstructionCountSpec | None = Field(
        default=None, description="Emulated boards only: the counting wrapper (edgefer bench --count-instructions).")

    _path: str | None = PrivateAttr(default=None)

    @field_validator("python", mode="before")
    @classmethod
    def _split_python(cls, v: object) -> object:
        return shlex.split(v) if isinstance(v, str) else v

    @field_validator("python")
    @classmethod
    def _python_nonempty(cls, v: list[str]) -> list[str]:
        if not v or not v[0]:
            raise ValueError("python must name a command")
        return v

    @field_validator("workdir")
    @classmethod
    def _workdir_shape(cls, v: str) -> str:
        if not v or v == "~" or ("~" in v and not v.startswith("~/")) or "\0" in v or "\n" in v:
            raise ValueError("workdir must be a path; '~' only as a leading '~/'")
        return v.rstrip("/") or "/"

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.emulated and not self.emulator:
            raise ValueError("emulated targets must name their emulator (emulator: 'qemu-aarch64 (cortex-a72)')")
        if self.instruction_counts is not None and not self.emulated:
            raise ValueError("instruction_counts is for emulated targets only (emulated: true)")
        if self.connection.type == "adb" and not self.workdir.startswith("/"):
            raise ValueError("adb targets need an absolute workdir, e.g. /data/local/tmp/edgefer")
        return self

    @property
    def path(self) -> str | None:
        """The YAML file this profile was loaded from, if any."""
        return self._path

    @property
    def transport(self) -> str:
        return self.connection.type

    def int8_activation_type(self) -> Literal["U8", "S8"]:
        """Activation type for ONNX Runtime static int8.

        ORT's Arm kernels use signed dot-product (SDOT) for S8S8 when the CPU has it;
        without it (and on x86 without VNNI), U8 activations are the faster and
        recommended choice.
        """
        if self.runtimes.onnxruntime.int8_activation:
            return self.runtimes.onnxruntime.int8_activation
        if self.arch == "aarch64" and self.cpu.has("asimddp"):
            return "S8"
        return "U8"

    def summary(self) -> dict:
        """Short description embedded in bench reports (report JSON `target`)."""
        return {"name": self.name, "board": self.board, "arch": self.arch, "transport": self.transport}
