"""reproduce's outputs: the paper tables (terminal and Markdown), claim lines, table.md,
results.json and the latency-vs-FLOPs chart."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from edgefer.reproduce.records import ClaimCheck, PaperResult, ReproduceResult, Row
from edgefer.runner.files import write_json_atomic, write_text_atomic


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _pub(row: Row, metric: str, scale: float, digits: int) -> tuple[str, str]:
    """(published cell, ratio cell) for one metric; several figures are joined with ' / '."""
    figs = row.published.get(metric, [])
    if not figs:
        return "—", "—"
    pub = " / ".join(f"{f['value'] / scale:.{digits}f}" + (f" ({f['setting']}{', ' + f['dataset'] if f['dataset'] else ''})"
                                                          if metric in ("latency", "throughput", "energy") else "")
                     for f in figs)
    ratio = " / ".join("—" if f["ratio"] is None else f"x{f['ratio']:.2f}" + (
        f" ({f['ours_statistic']})" if f.get("ours_statistic") else "") for f in figs)
    return pub, ratio


# (our column, the published metric shown beside it or None, scale of the published value, digits)
_OURS = (
    ("params M", "params", 1e6, 2),
    ("M{conv}", "flops", 1e6, 0),
    ("size MB", "model_size", 1, 2),
    ("p50 ms", "latency", 1, 1),
    ("p90 ms", None, 1, 1),
    ("samples/s", "throughput", 1, 1),
    ("energy J", "energy", 1, 3),
)


_PUB_HEAD = {"params": "paper params M", "flops": "paper MFLOPs", "model_size": "paper MB", "latency": "paper ms",
             "throughput": "paper FPS", "energy": "paper J"}


def paper_table(p: PaperResult) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one paper's table (terminal and Markdown). A "paper ..." and a "ratio"
    column follow each of our columns the paper publishes a figure for; the others are left out."""
    conv = p.flops_convention or "MACs"
    published = {m for r in p.rows for m in r.published}
    head = ["model", "format", "input"]
    for col, metric, _scale, _d in _OURS:
        head.append(col.replace("{conv}", conv))
        if metric in published:
            head += [_PUB_HEAD[metric], "ratio"]
    rows = []
    for r in p.rows:
        count = r.macs if conv == "MACs" else r.flops
        energy = _num(r.energy_j, 4) if r.energy_j is not None else (r.energy_status or "—")
        if r.energy_status == "estimated":
            energy += " (estimated)"
        p50 = _num(r.p50_ms, 3) + (" (emulated)" if r.emulated else "") + (" (cached)" if r.cached else "")
        if r.error:
            p50 = f"error: {r.error}" if r.p50_ms is None else f"{p50} ({r.error})"
        ours = {
            "params M": _num(r.params / 1e6 if r.params else None),
            "M{conv}": _num(count / 1e6 if count else None, 1),
            "size MB": _num(r.size_bytes / 1e6 if r.size_bytes else None, 3),
            "p50 ms": p50,
            "p90 ms": _num(r.p90_ms, 3),
            "samples/s": _num(r.throughput_sps, 1),
            "energy J": energy,
        }
        cells = [r.model, f"{r.format} {r.precision}" if r.format else "—",
                 "x".join(map(str, r.input_shape[1:])) if r.input_shape else "—"]
        for col, metric, scale, digits in _OURS:
            cells.append(ours[col])
            if metric in published:
                cells += list(_pub(r, metric, scale, digits))
        rows.append(cells)
    from edgefer.bench.instructions import add_reproduce_column

    add_reproduce_column(head, rows, [r.instructions for r in p.rows])
    return head, rows


def claim_line(c: ClaimCheck) -> str:
    exp = f"paper's own table implies x{c.expected_ratio:.3f}; " if c.expected_ratio else ""
    meas = "—" if c.measured_ratio is None else f"x{c.measured_ratio:.3f}"
    if c.ci_low is not None:
        from edgefer.compare.reports import format_p

        meas += f" [95% CI {c.ci_low:.3f}-{c.ci_high:.3f}, Mann-Whitney {format_p(c.p_value)}]"
    what = f"{c.subject}/{c.reference} {c.metric}" + (f" ({c.series})" if c.series else "")
    emu = " on the EMULATED board: says nothing about real hardware" if c.emulated else ""
    return f"{c.statement} — {what}: {exp}measured {meas} -> **{c.outcome}**{emu} ({c.source})"


def to_markdown(res: ReproduceResult) -> str:
    t = res.target or {}
    lines = [f"# edgefer reproduce — target `{res.settings.target}`", ""]
    lines += [f"Command: `{res.command}`", ""]
    if t:
        lines += [f"Target: {t.get('name')} ({t.get('board') or 'board n/a'}, {t.get('arch')}, {t.get('transport')})"
                  + (" — EMULATED: timings are not those of real hardware"
                     if any(r.emulated for p in res.papers for r in p.rows) else ""), ""]
    lines += [res.note, "",
              "Ours: params/MACs/FLOPs at the zoo model's default input, batch 1; latency = per-sample p50/p90, the mean over "
              "repeats (separate runner processes) of each repeat's; ratio = ours / published. Published "
                  "figures come from edgefer/reproduce/papers.yaml with their "
              "source; their hardware differs from this target, so latency ratios compare machines, not only models.", ""]
    for p in res.papers:
        lines += [f"## {p.short_name} — {p.title}", "", f"Seed `{p.id}`. {p.notes}", ""]
        if p.flops_convention:
            lines += [f"The paper's \"FLOPs\" match our **{p.flops_convention}** "
                      f"({'multiply-accumulates' if p.flops_convention == 'MACs' else '2 x MACs'}); that column uses them.", ""]
        else:
            lines += ["The paper prints no FLOPs figure; the count column shows our MACs.", ""]
        head, body = paper_table(p)
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
        lines.append("")
        energy = sorted({f"{r.energy_status}: {r.energy_reason}" for r in p.rows if r.energy_reason})
        if energy:
            lines += ["Energy: " + "; ".join(energy), ""]
        srcs = sorted({f"{f['source']}: \"{f['quote']}\"" for r in p.rows for figs in r.published.values() for f in figs})
        if srcs:
            lines += ["Sources of the published figures:", ""] + [f"- {s}" for s in srcs] + [""]
        if p.claims:
            lines += ["Claims:", ""] + [f"- {claim_line(c)}" for c in p.claims] + [""]
        errs = [f"{r.model} {r.format} {r.precision}: {v}" for r in p.rows for v in r.verification]
        if errs:
            lines += ["Conversion verification failures:", ""] + [f"- {e}" for e in errs] + [""]
    return "\n".join(lines)


def chart_points(res: ReproduceResult) -> list[dict]:
    pts = []
    for p in res.papers:
        conv = p.flops_convention or "MACs"
        for r in p.rows:
            count = r.macs if conv == "MACs" else r.flops
            if r.p50_ms and count and not r.error:
                pts.append({"label": r.model, "series": f"{r.format} {r.precision}", "mflops": count / 1e6, "ms": r.p50_ms})
    return pts


def write_outputs(res: ReproduceResult, out: Path, plot: bool) -> None:

    res.files = {"results": str(out / "results.json"), "table": str(out / "table.md")}
    if plot:
        pts = chart_points(res)
        if pts:
            from edgefer.report.plots import plot_latency_vs_flops

            convs = {p.flops_convention or "MACs" for p in res.papers}
            title = (f"{', '.join(p.short_name for p in res.papers)} on {res.settings.target}: "
                     f"ms/sample vs M{'/'.join(sorted(convs))} (untrained models)")
            xlabel = f"M{'/'.join(sorted(convs))} (ours, in the convention matching the paper's 'FLOPs')"
            res.files["chart"] = plot_latency_vs_flops(pts, str(out / "chart.png"), title, xlabel)
    write_text_atomic(out / "table.md", to_markdown(res))
    write_json_atomic(str(out / "results.json"), res.to_dict())


def command_line() -> str:
    return "edgefer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
