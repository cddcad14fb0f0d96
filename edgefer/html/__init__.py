"""`edgefer report html`: one self-contained HTML page for edgefer's outputs, to share.

    write_html(["a.json", "b.json"], "report.html")

Takes bench reports (two or more are also compared), pipeline reports, `compare --json` files and
reproduce/study results.json (with the table.md and plots beside them). Inline CSS, plots as
embedded PNGs, no scripts and nothing fetched: the file opens anywhere, offline.
"""

from __future__ import annotations

from datetime import datetime, timezone

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.html import sections
from edgefer.html.page import page


def render_html(paths: list[str]) -> str:
    if not paths:
        raise EdgeferError("report html needs at least one JSON file")
    loaded = [(p, sections.read(p)) for p in paths]
    bench = [(p, d) for p, d in loaded if d["kind"] == "edgefer.bench.report"]
    parts = []
    if len(bench) >= 2:
        parts.append(sections.comparison([d for _, d in bench], [sections.name_of(p) for p, _ in bench]))
    for path, data in loaded:
        kind, name = data["kind"], sections.name_of(path)
        if kind == "edgefer.bench.report":
            parts.append(sections.bench_report(data, name))
        elif kind == "edgefer.pipeline.report":
            parts.append(sections.pipeline_report(data, name))
        elif kind == "edgefer.compare":
            parts.append(sections.comparison_json(data, name))
        elif kind == "edgefer.reproduce":
            parts.append(sections.run_directory(data, path, "reproduce"))
        elif kind == "edgefer.study":
            parts.append(sections.run_directory(data, path, "study"))
        else:
            raise EdgeferError(f"{path}: edgefer kind {kind!r} has no HTML rendering")
    names = {"edgefer.bench.report": "bench report", "edgefer.pipeline.report": "pipeline run",
             "edgefer.compare": "comparison", "edgefer.reproduce": "reproduce run", "edgefer.study": "study"}
    counts: dict[str, int] = {}
    for _, d in loaded:
        counts[names[d["kind"]]] = counts.get(names[d["kind"]], 0) + 1
    title = "edgefer: " + ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in counts.items())
    subtitle = ", ".join(sections.name_of(p) for p in paths)
    footer = (f"made by edgefer {__version__} on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} from "
              f"{len(paths)} file(s); intervals include between-run variance (repeats), emulated and estimated "
              f"figures are labelled as such")
    return page(title, subtitle, "".join(parts), footer)


def write_html(paths: list[str], out: str) -> str:
    from edgefer.runner.files import write_text_atomic

    html = render_html(paths)
    try:
        write_text_atomic(out, html)
    except OSError as exc:
        raise EdgeferError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out
