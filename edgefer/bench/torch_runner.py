"""`python -m edgefer.bench.torch_runner bench ...`: the runner, with the PyTorch eager runtime.

Host only. The device runner (`python -m edgefer.runner`) knows the runtimes a board can have;
the eager reference needs torch and the zoo, which never go to a board (the device-side rule,
docs/ARCHITECTURE.md). This entry point registers "torch" in the runner's runtime registry, in
this process only, then hands over to the runner's own CLI: same flags, same report, same exit
codes. The host starts it instead of edgefer.runner for `--runtime torch` (`runner_module`).
"""

from __future__ import annotations

import sys

DEVICE_RUNNER = "edgefer.runner"
TORCH_RUNNER = "edgefer.bench.torch_runner"


def register_torch_runtime() -> None:
    """Make "torch" a runtime of this process (imported when a model is opened with it)."""
    from edgefer.runner.runtimes import RUNTIMES

    RUNTIMES.register("torch", "edgefer.bench.torch_runtime:TorchRuntime")


def runner_module(runtime: str | None) -> str:
    """The module a local runner process is started with for this --runtime."""
    return TORCH_RUNNER if runtime == "torch" else DEVICE_RUNNER


def main(argv: list[str] | None = None) -> int:
    from edgefer.runner.__main__ import main as runner_main

    register_torch_runtime()
    return runner_main(argv)


if __name__ == "__main__":
    sys.exit(main())
