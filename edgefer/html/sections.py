"""One renderer per kind of edgefer output: bench report, comparison, reproduce/study run, pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.html import figures
from edgefer.html.page import badge, esc, figure, kv_table, markdown_tables, section, table


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def provenance_badges(rep: dict) -> str:
    env = rep.get("environment") or {}
    out = []
    if env.get("emulated"):
        out.append(badge(f"EMULATED: {env.get('emulator') or 'emulator'} — timings are not real hardware's",
                         "emulated"))
    energy = rep.get("energy") or {}
    if energy.get("status") == "estimated":
        out.append(badge("energy ESTIMATED from nominal power, not measured", "estimated"))
    elif energy.get("status") == "measured":
        out.append(badge(f"energy measured ({energy.get('meter')})", "measured"))
    if rep.get("partial"):
        out.append(badge(f"PARTIAL: {rep.get('partial_reason') or 'interrupted'}", "partial"))
    if rep.get("schema_version") == "1":
        out.append(badge("schema 1: one run, no between-run estimate", "estimated"))
    elif not rep.get("partial"):
        out.append(badge(f"{(rep.get('settings') or {}).get('repeat', 1)} repeat(s), complete", "ok"))
    return "<p>" + "".join(out) + "</p>"


def _groups(rep: dict) -> list[np.ndarray]:
    from edgefer.compare.reports import repeat_groups

    return [g for g in repeat_groups(rep) if g.size]


def _op_profile(op: dict) -> str:
    parts = [f"<p>status: {esc(op.get('status'))}; {esc(op.get('method') or op.get('reason') or '')}; "
             f"{esc(op.get('profiled_runs'))} profiled runs, separate from the timed runs</p>"]
    types = op.get("op_types") or []
    if types:
        parts.append("<h3>by op type</h3>" + table(
            ("op type", "count", "mean ms", "share", "providers / delegated"),
            [(t.get("op_type"), t.get("count"), _fmt(t.get("mean_ms")),
              f"{t['share']:.1%}" if t.get("share") is not None else "-",
              ", ".join(t.get("providers") or []) or (f"{t.get('delegated')} delegated, {t.get('builtin')} built-in"
                                                       if t.get("delegated") is not None else "-"))
             for t in types[:25]]))
    nodes = sorted((n for n in op.get("nodes") or [] if n.get("mean_ms") is not None),
                   key=lambda n: -n["mean_ms"])[:15]
    if nodes:
        parts.append("<h3>top ops</h3>" + table(
            ("node", "op type", "provider", "mean ms", "share"),
            [(n.get("name"), n.get("op_type"), n.get("provider") or "-", _fmt(n.get("mean_ms")),
              f"{n['share']:.1%}" if n.get("share") is not None else "-") for n in nodes], numeric_from=3))
    q = op.get("quantization")
    if q:
        parts.append(f"<p>quantization: {esc(q.get('quantize_nodes'))} QuantizeLinear, {esc(q.get('dequantize_nodes'))} "
                     f"DequantizeLinear ({_fmt(q.get('qdq_share', 0) * 100, 1)}% of the time); float islands "
                     f"{_fmt((q.get('float_island_share') or 0) * 100, 1)}%</p>")
    return "".join(parts)


def _extra_sections(rep: dict) -> str:
    """Sections other parts of edgefer add to a report (kept generic: any dict is shown)."""
    out = []
    if rep.get("op_profile"):
        out.append(section("op profile", _op_profile(rep["op_profile"])))
    for key, title in (("roofline", "compute rate vs the CPU's nominal peak (computed from nominal specs)"),
                       ("instructions", "guest instruction counts (emulated board; a proxy for work, not time)"),
                       ("accelerators", "accelerators / execution providers")):
        value = rep.get(key)
        if isinstance(value, dict) and value:
            rows = [(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in value.items()]
            out.append(section(title, kv_table(rows)))
    return "".join(out)


def bench_report(rep: dict, name: str) -> str:
    from edgefer.report.bench import summary_rows, validate_report

    r = validate_report(rep, name)
    body = [provenance_badges(rep), kv_table(summary_rows(r))]
    groups = _groups(rep)
    if groups:
        body.append(figure(figures.latency_distribution(groups, name), "latency distribution of every timed run"))
    reps = rep.get("repeats") or []
    if len(groups) > 1:
        body.append(figure(figures.repeat_spread(groups, name), "per-repeat spread (box: within a repeat)"))
    if reps:
        body.append("<h3>repeats</h3>" + table(
            ("repeat", "pid", "samples", "p50 ms/sample", "load ms", "first inference ms", "peak RSS MB",
             "model RSS MB", "status"),
            [(x["index"] + 1, x.get("pid"), len(x["samples_ns"]),
              _fmt(float(np.median(g)) if (g := np.asarray(x["samples_ns"], float) / 1e6 /
                                           max(1, (rep.get("settings") or {}).get("batch_size") or 1)).size else None),
              _fmt(x.get("load_ms"), 1), _fmt(x.get("first_inference_ms")), _fmt(x.get("peak_rss_mb"), 1),
              _fmt(x.get("model_rss_mb"), 1), "partial: " + str(x.get("partial_reason")) if x.get("partial") else "ok")
             for x in reps]))
    env = rep.get("environment") or {}
    body.append("<details><summary>environment fingerprint</summary>" + kv_table(
        [(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in env.items()]) + "</details>")
    return section(f"bench report: {name}", "".join(body)) + _extra_sections(rep)


def comparison(reports: list[dict], names: list[str]) -> str:
    from edgefer.compare.reports import compare_reports

    labelled = [dict(r, label=r.get("label") or n) for r, n in zip(reports, names)]
    cmp = compare_reports(labelled)
    body = markdown_tables(cmp.markdown())
    body += figure(figures.cdf_overlay({k: np.asarray(v) for k, v in cmp.samples_ms.items()}),
                   "latency CDF of each report (all repeats)")
    return section(f"comparison (baseline: {cmp.baseline})", body)


def comparison_json(data: dict, name: str) -> str:
    rows = []
    for label, metrics in (data.get("metrics") or {}).items():
        for m in metrics:
            ci = f"[{m['ci_low']:.3f}, {m['ci_high']:.3f}]" if m.get("ci_low") is not None else "-"
            rows.append((label, m["metric"], _fmt(m.get("baseline")), _fmt(m.get("value")),
                         _fmt(m.get("ratio")), ci, m.get("verdict")))
    body = table(("report", "metric", "baseline", "value", "ratio", "95% interval", "verdict"), rows, numeric_from=2)
    body += "".join(f'<p class="warn">warning: {esc(w)}</p>' for w in data.get("warnings") or [])
    body += "".join(f'<p class="warn"><b>regression</b>: {esc(w)}</p>' for w in data.get("regressions") or [])
    return section(f"comparison {name} (baseline: {data.get('baseline')})", body)


def run_directory(data: dict, path: str, title: str) -> str:
    """reproduce / study results.json: the table.md and the PNG plots written beside it."""
    folder = Path(path).parent
    body = []
    emulated = "EMULATED" in json.dumps(data) or '"emulated": true' in json.dumps(data)
    if emulated:
        body.append("<p>" + badge("contains rows measured on an EMULATED board: their timings say nothing "
                                  "about real hardware", "emulated") + "</p>")
    if "estimated" in json.dumps(data.get("rows", data)):
        body.append("<p>" + badge("contains ESTIMATED energy figures", "estimated") + "</p>")
    md = folder / "table.md"
    if md.is_file():
        body.append(markdown_tables(md.read_text()))
    for png in sorted(folder.glob("*.png")):
        body.append(figure(png.read_bytes(), png.name))
    if data.get("command"):
        body.append(f"<p>command: <code>{esc(data['command'])}</code></p>")
    return section(f"{title}: {path}", "".join(body))


def pipeline_report(rep: dict, name: str) -> str:
    from edgefer.pipeline.plot import plot_timeline
    from edgefer.report.pipeline import stage_rows, summary_rows, validate_pipeline_report

    r = validate_pipeline_report(rep, name)
    body = [provenance_badges(rep), kv_table(summary_rows(r))]
    rows = stage_rows(r)
    if rows:
        body.append("<h3>stages</h3>" + table(("stage", "p50 ms", "p90 ms", "p99 ms", "mean ms"), rows))
    if rep.get("timeline"):
        body.append(figure(figures.via_file(lambda out: plot_timeline(rep, out)),
                           "per-second timeline: latency, deadline misses, temperature, CPU frequency"))
    return section(f"pipeline run: {name}", "".join(body))


def read(path: str) -> dict:
    from edgefer.errors import EdgeferError
    from edgefer.report.bench import read_json_object

    data = read_json_object(path)
    if not str(data.get("kind", "")).startswith("edgefer."):
        raise EdgeferError(f"{path}: not an edgefer report (no edgefer kind)",
                           hint="give a bench/pipeline report, a compare --json file, or a reproduce/study results.json")
    return data


def name_of(path: str) -> str:
    return os.path.basename(path)
