"""Our params and MACs/FLOPs for every zoo model beside the figures its paper publishes.

    python benchmarks/profile_zoo.py [--json OUT.json]

Counts are measured by edgefer.zoo.profile (torch FlopCounterMode) at each model's default input,
batch 1. Published figures come from edgefer/reproduce/papers.yaml. For FLOPs the ratio is shown
against both our MACs and our FLOPs (= 2 x MACs) and the closer one is named: papers print
"FLOPs" without saying which they mean. Models not in the zoo yet, or that fail to build,
are reported in their row and the rest go on.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from edgefer.errors import EdgeferError
from edgefer.reproduce import flops_convention
from edgefer.reproduce.papers import load_papers
from edgefer.runner.files import write_text_atomic
from edgefer.zoo import get_entry, list_models
from edgefer.zoo.profile import profile_zoo_model


def rows() -> list[dict]:
    papers = load_papers()
    published = {m.zoo: (p, m) for p in papers.papers for m in p.models}
    zoo = list_models()
    out = []
    for name in sorted(set(zoo) | set(published)):
        paper, pm = published.get(name, (None, None))
        row: dict = {"model": name, "paper": paper.short_name if paper else None}
        try:
            if name not in zoo:
                raise EdgeferError("not in the zoo yet")
            entry = get_entry(name)
            prof = profile_zoo_model(name)
            row.update(input=[entry.in_chans, *entry.input_size], params=prof.params_total,
                       macs=prof.macs, flops=prof.flops)
        except Exception as exc:  # one failing model must not stop the table
            row["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for fig in pm.figures if pm else []:
            if fig.metric == "params" and "params" in row:
                row["published_params"] = fig.base_value()
                row["params_ratio"] = row["params"] / fig.base_value()
            if fig.metric == "flops" and "macs" in row:
                v = fig.base_value()
                row.update(published_flops=v, published_flops_printed=f"{fig.printed()} {fig.convention or ''}".strip(),
                           macs_ratio=row["macs"] / v, flops_ratio=row["flops"] / v,
                           matches=flops_convention(v, row["macs"], row["flops"]),
                           flops_source=fig.source.cite())
        out.append(row)
    return out


def _fmt(x: float | None, scale: float, digits: int = 2) -> str:
    return "—" if x is None else f"{x / scale:.{digits}f}"


def render(data: list[dict]) -> Table:
    t = Table(title="Zoo models: our counts (batch 1, default input) vs published")
    for col in ("model", "paper", "input", "params M", "pub. params M", "ratio",
                "MACs M", "FLOPs M", "pub. FLOPs M", "ours/pub (MACs)", "ours/pub (FLOPs)", "matches"):
        t.add_column(col, justify="left" if col in ("model", "paper", "matches") else "right")
    for r in data:
        if "error" in r:
            t.add_row(r["model"], r["paper"] or "—", f"[red]{r['error']}[/red]", *["—"] * 9)
            continue
        t.add_row(
            r["model"], r["paper"] or "—", "x".join(map(str, r["input"])),
            _fmt(r["params"], 1e6), _fmt(r.get("published_params"), 1e6), _fmt(r.get("params_ratio"), 1, 2),
            _fmt(r["macs"], 1e6, 1), _fmt(r["flops"], 1e6, 1), _fmt(r.get("published_flops"), 1e6, 0),
            _fmt(r.get("macs_ratio"), 1, 2), _fmt(r.get("flops_ratio"), 1, 2), r.get("matches", "—"),
        )
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    data = rows()
    Console(width=max(Console().width, 200)).print(render(data))
    if args.json:
        write_text_atomic(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
