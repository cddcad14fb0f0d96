"""`edgefer deploy`: copy an artifact and the lean runner to a board and check its python."""

from __future__ import annotations

from pathlib import Path

import typer


def deploy_cmd(
    artifact: Path = typer.Argument(..., help="Converted model (.onnx or .tflite); its manifest.json goes along."),
    target: str = typer.Option(..., "--target", "-t", help="Target name (targets/NAME.yaml) or profile path."),
    install_deps: bool = typer.Option(
        False, "--install-deps", help="pip-install a missing numpy/runtime on the device instead of failing."
    ),
) -> None:
    """Copy ARTIFACT (+ manifest) and the lean runner to the target's work dir, then check the device's python and runtime.

    Unchanged files are skipped by sha256 and copies are verified.

    Example: edgefer deploy out/mobilenet_v1/model_int8.onnx --target rpi5
    """
    from edgefer.deploy import deploy

    dep = deploy(artifact, target, install_deps=install_deps, on_step=lambda msg: typer.echo(f"[deploy] {msg}", err=True))
    p = dep.probe
    runtimes = ", ".join(f"{k} {v}" for k, v in (p.get("runtimes") or {}).items() if v) or "none"
    typer.echo(f"target {dep.target.name} ({dep.transport.describe()}): {len(dep.copied)} files copied, "
               f"{len(dep.unchanged)} unchanged, work dir {dep.workdir}")
    typer.echo(f"artifact: {dep.artifact}")
    typer.echo(f"device: python {p.get('python')} on {p.get('machine')}, numpy {p.get('numpy')}, {runtimes}"
               + (" [emulated: timings are for function, not speed]" if p.get("emulated") else ""))


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_cmd)
