"""Device-side benchmark runner: runtimes, load generator, environment fingerprint, statistics.

Imports only the standard library, numpy, the inference runtime and (optionally) psutil;
deploy copies this package to boards that have no torch. `python -m edgefer.runner --help`.
"""
