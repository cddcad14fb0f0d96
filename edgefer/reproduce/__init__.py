"""Rebuild a paper's efficiency table on a target, beside the published figures.

Modules: records (settings, rows, claims, result), measuring (convert, bench, fill rows),
claims (published figures beside ours, claims checked), tables (outputs), run (reproduce()).

    result = reproduce("mobilenetv3-ca-dka", target="local", formats=("onnx",), precisions=("fp32",))

For each model of the paper (edgefer/reproduce/papers.yaml) and each format/precision asked:
params and MACs/FLOPs (edgefer.zoo.profile, at the zoo model's default input), the artifact
(edgefer.convert), and its latency/throughput/energy on the target (edgefer.bench.api). Every
published figure is shown beside ours with the ratio ours/published, and the paper's claims
are checked against what we measure (latency claims with the statistics of edgefer.compare.reports).

Resumable: OUT/cache.json maps (model, format, precision, artifact sha256, bench settings,
target) to a report in OUT/reports/; a row whose key matches is not measured again. A
conversion directory whose manifest was made with the same settings is not converted again.
A model that fails is reported in its rows; the others go on.

The zoo models are untrained (seed-0 random weights): latency, size and FLOPs do not depend on
the weights, but int8 calibration uses random inputs unless `calib_data` is given.
"""

from edgefer.reproduce.claims import attach_published, check_claims, outcome, paper_convention
from edgefer.reproduce.records import (
           TORCH,
           ClaimCheck,
           PaperResult,
           ReproduceResult,
           Row,
           Settings,
           flops_convention,
)
from edgefer.reproduce.run import reproduce
from edgefer.reproduce.tables import chart_points, claim_line, command_line, paper_table, to_markdown

__all__ = ["TORCH", "ClaimCheck", "PaperResult", "ReproduceResult", "Row", "Settings", "attach_published",
           "chart_points", "check_claims", "claim_line", "command_line", "flops_convention", "outcome",
           "paper_convention", "paper_table", "reproduce", "to_markdown"]
