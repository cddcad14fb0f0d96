"""Comparing reports: bench, instructions, op profiles, pipeline; one gate."""

from edgefer.compare.reports import Comparison, compare_reports

__all__ = ["Comparison", "compare_reports"]
