"""results.json, the tables and the plots of a study run (all written atomically)."""

from __future__ import annotations

from datetime import datetime, timezone

from edgefer.runner.files import write_json_atomic, write_text_atomic
from edgefer.study.figures import cell_figures


def _target_info(tp, places: set[str]) -> dict:
    p = tp.profile
    info = {"id": tp.id, "profile": p.name, "board": p.board, "arch": p.arch, "emulated": p.emulated,
            "emulator": p.emulator, "transport": p.connection.type, "file": p.path}
    if tp.is_lab:
        c = p.connection
        info["labgrid"] = {"coordinator": c.coordinator, "place": c.place, "tags": c.tags,
                           "places_used": sorted(places)}
    return info


def to_dict(run, command: str | None) -> dict:
    from edgefer import __version__

    plan = run.plan
    cells = []
    for c in run.cells:
        cells.append({
            "target": c.cell.target, "model": c.cell.model, "format": c.cell.format, "precision": c.cell.precision,
            "series": c.cell.series, "status": c.status, "error": c.error, "place": c.place,
            "artifact": {k: v for k, v in (c.artifact or {}).items() if k not in ("verification", "from_dir")} or None,
            "verification_violations": list(((c.artifact or {}).get("verification") or {}).get("violations", [])),
            "repeats": c.repeats, "figures": cell_figures(plan.out, c.repeats) if c.repeats else None,
        })
    notes = list(plan.skipped)
    if plan.int8_activation:
        notes.append(f"ONNX int8 activations {plan.int8_activation} for every target ({plan.int8_activation_why}).")
    calib = plan.study.data.calib
    if "int8" in plan.study.precisions and not calib:
        notes.append("int8 was calibrated on RANDOM inputs (no data.calib): its accuracy is unverified.")
    if plan.study.bench.concurrent and len(plan.targets) > 1:
        notes.append("Targets ran concurrently; targets sharing one host (the local machine, emulated boards on it) "
                     "compete for its CPU: use bench.concurrent: false for figures to publish.")
    places = {t.id: {c.place for c in run.cells if c.cell.target == t.id and c.place} for t in plan.targets}
    return {
        "kind": "edgefer.study", "schema_version": "1", "edgefer_version": __version__,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": plan.study.name, "command": command or "edgefer.study.run_study(...)",
        "spec": plan.study.model_dump(mode="json"), "wall_s": run.wall_s, "measured_repeats": run.measured,
        "fatal": run.fatal, "notes": notes,
        "targets": [_target_info(t, places[t.id]) for t in plan.targets],
        "models": list(run.models.values()), "cells": cells,
    }


def write_outputs(run, plot: bool = True, command: str | None = None) -> dict:
    from edgefer.study.tables import to_csv, to_latex, to_markdown

    out = run.plan.out
    result = to_dict(run, command)
    files = {"results": str(out / "results.json"), "table_tex": str(out / "table.tex"),
             "table_md": str(out / "table.md"), "table_csv": str(out / "table.csv")}
    if plot:
        from edgefer.study.plots import write_plots

        files.update(write_plots(result, out))
    result["files"] = files
    write_text_atomic(out / "table.md", to_markdown(result))
    write_text_atomic(out / "table.csv", to_csv(result))
    write_text_atomic(out / "table.tex", to_latex(result))
    write_json_atomic(str(out / "results.json"), result)
    run.files = files
    run.result = result
    return result
