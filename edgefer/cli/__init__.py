"""The `edgefer` command line: a thin Typer layer over library functions.

Each `cmd_*.py` module exposes `register(app)` and keeps heavy imports (torch,
onnxruntime) inside the command bodies so `edgefer --help` stays fast.
"""
