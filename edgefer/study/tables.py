"""table.tex (booktabs), table.md and table.csv of a study: one row per target x model x format.

Values carry their uncertainty (latency mean ± 95% half-width over repeats), units sit in the
header, and footnotes flag emulated targets and estimated energy; a failed cell says so (its
error is in table.md, table.csv and results.json).
"""

from __future__ import annotations

import csv
import io
import math

# Throughput at batch 1 is 1/latency: it stays in table.csv and results.json, not in the paper table.
HEAD = ("Target", "Model", "Format", "Params (M)", "MACs (M)", "Latency (ms)", "Peak memory (MB)",
        "Energy (mJ/inference)")
CSV_HEAD = ("target", "model", "format", "precision", "params", "macs", "latency_ms", "latency_ci_low_ms",
            "latency_ci_high_ms", "latency_method", "n_repeats", "n_samples", "throughput_sps", "peak_rss_mb",
            "energy_mj", "energy_ci_low_mj", "energy_ci_high_mj", "energy_status", "emulated", "place", "status",
            "error", "reports")


def _digits(x: float) -> int:
    return 3 if abs(x) < 1 else 2 if abs(x) < 10 else 1 if abs(x) < 1000 else 0


def pm(fig: dict | None, plus: str = "±") -> str:
    """value ± half-width, rounded to the uncertainty's second significant digit."""
    if not fig:
        return "—"
    hw = fig.get("half_width")
    if hw:
        d = min(4, max(0, 1 - math.floor(math.log10(hw))))
        return f"{fig['value']:.{d}f} {plus} {hw:.{d}f}"
    return f"{fig['value']:.{_digits(fig['value'])}f}"


def _mega(x: int | None) -> str:
    """Millions with three significant digits (a 12 k-param model is 0.0120, not 0.01)."""
    if x is None:
        return "—"
    v = x / 1e6
    d = min(4, max(0, 2 - math.floor(math.log10(v)))) if v > 0 else 0
    return f"{v:.{d}f}"


def rows(result: dict) -> list[dict]:
    """Table rows (dicts of display strings + flags) in target, model, format order."""
    models = {m["id"]: m for m in result["models"]}
    targets = {t["id"]: t for t in result["targets"]}
    out = []
    for c in result["cells"]:
        m, t, f = models[c["model"]], targets[c["target"]], c.get("figures") or {}
        mem = f.get("memory_mb")
        energy = f.get("energy_mj")
        out.append({
            "target": t["id"], "model": m["label"], "format": c["series"], "params": _mega(m.get("params")),
            "macs": _mega(m.get("macs")), "latency": pm(f.get("latency_ms")) if f else "—",
            "throughput": pm(f.get("throughput_sps")) if f else "—",
            "memory": "—" if not mem else f"{mem['value']:.1f}", "energy": pm(energy) if energy else "—",
            "emulated": bool(f.get("emulated") or t.get("emulated")),
            "estimated": bool(energy and energy["status"] == "estimated"),
            "failed": c["status"] != "ok", "error": c.get("error"), "cell": c, "model_facts": m,
        })
    return out


def to_markdown(result: dict) -> str:
    rs = rows(result)
    lines = [f"# {result.get('name') or 'edgefer study'}", "", f"Command: `{result['command']}`  ",
             f"Date: {result['created_utc']}", "",
             "| " + " | ".join(HEAD) + " |", "|" + "---|" * 3 + "---:|" * (len(HEAD) - 3)]
    for r in rs:
        target = r["target"] + (" (emulated)" if r["emulated"] else "")
        latency = r["latency"] if not r["failed"] or r["latency"] != "—" else f"failed: {r['error']}"
        if r["failed"] and r["latency"] != "—":
            latency += f" (incomplete: {r['error']})"
        energy = r["energy"] + (" (estimated)" if r["estimated"] else "")
        cells = [target, r["model"], r["format"], r["params"], r["macs"], latency, r["memory"], energy]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", NOTES_MD, ""]
    if any(r["emulated"] for r in rs):
        lines += ["Emulated targets run under QEMU: their timings are about the emulator, not any real CPU.", ""]
    for note in result.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


NOTES_MD = ("Latency: per-sample time at batch 1, mean of the per-repeat medians ± the 95% t half-width over "
            "repeats, with the target's between-session drift where its profile states one (one repeat: bootstrap "
            "interval of its median). Params/MACs: edgefer.zoo.profile at the model's "
            "input, batch 1 (FLOPs = 2 x MACs). Memory: largest peak RSS of the benchmark process over the repeats. "
            "Provenance of every figure (the repeat reports it comes from): results.json.")


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEAD)
    models = {m["id"]: m for m in result["models"]}
    for c in result["cells"]:
        m, f = models[c["model"]], c.get("figures") or {}
        lat, en = f.get("latency_ms") or {}, f.get("energy_mj") or {}
        mem, tp = f.get("memory_mb") or {}, f.get("throughput_sps") or {}
        w.writerow([c["target"], m["label"], c["format"], c["precision"] or "", m.get("params") or "", m.get("macs") or "",
                    lat.get("value", ""), lat.get("ci_low", ""), lat.get("ci_high", ""), lat.get("method", ""),
                    lat.get("n_repeats", ""), lat.get("n_samples", ""), tp.get("value", ""), mem.get("value", ""),
                    en.get("value", ""), en.get("ci_low", ""), en.get("ci_high", ""), en.get("status", ""),
                    f.get("emulated", ""), c.get("place") or "", c["status"], c.get("error") or "",
                    " ".join(lat.get("reports", []))])
    return buf.getvalue()


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(s: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in s)


def to_latex(result: dict) -> str:
    """A booktabs table; needs \\usepackage{booktabs} (the only package it uses)."""
    rs = rows(result)
    marks: dict[str, str] = {}

    def mark(kind: str) -> str:
        if kind not in marks:
            marks[kind] = "abcdefgh"[len(marks)]
        return f"$^{{\\mathrm{{{marks[kind]}}}}}$"

    head = [tex_escape(h).replace("±", r"$\pm$") for h in HEAD]
    lines = [r"% edgefer study table: needs \usepackage{booktabs}",
             f"% {tex_escape(result['command'])} ({result['created_utc']})",
             r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{tex_escape(result.get('name') or 'Efficiency of the models on each target')}}}",
             r"\begin{tabular}{lll" + "r" * (len(HEAD) - 3) + "}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    last_target = None
    for r in rs:
        if last_target is not None and r["target"] != last_target:
            lines.append(r"\midrule")
        target = tex_escape(r["target"]) + (mark("emulated") if r["emulated"] else "")
        last_target = r["target"]
        latency = r["latency"].replace("±", r"$\pm$")
        if r["failed"]:
            latency = (latency + mark("failed")) if r["latency"] != "—" else "failed" + mark("failed")
        energy = r["energy"].replace("±", r"$\pm$") + (mark("estimated") if r["estimated"] else "")
        cells = [target, tex_escape(r["model"]), tex_escape(r["format"]), r["params"], r["macs"], latency,
                 r["memory"], energy]
        lines.append(" & ".join(c.replace("—", "--") for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = {
        "emulated": "emulated target (QEMU): timings describe the emulator, not real hardware.",
        "estimated": "estimated energy: the board's nominal power times the run time, not a measurement.",
        "failed": "the cell failed or is incomplete; the error is in results.json.",
    }
    lines += [r"\par\smallskip\raggedright\footnotesize",
              r"Latency: per sample at batch 1, mean of the per-repeat medians $\pm$ 95\% half-width over repeats"
              r" (with the target's between-session drift where its profile states one)."]
    lines += [rf"\\ $^{{\mathrm{{{m}}}}}$ {tex_escape(notes[k])}" for k, m in marks.items()]
    lines += [r"\end{table}"]
    return "\n".join(lines) + "\n"
