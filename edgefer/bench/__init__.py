"""Benchmarking on a target: the host side of `edgefer bench`."""

from edgefer.bench.api import Job, bench, bench_jobs

__all__ = ["Job", "bench", "bench_jobs"]
