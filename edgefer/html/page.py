"""HTML building blocks: one self-contained page (inline CSS, plots as data: URIs, no scripts).

Everything a value passes through is escaped here, so report fields (labels, paths, error
messages a user or a board wrote) cannot inject markup into a page people share.
"""

from __future__ import annotations

import base64
import html
from typing import Iterable, Sequence

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b9c0cc;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:18px 28px 40px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e6e9ee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;margin-right:6px}
.emulated{background:#fde2c8;color:#8a4300}.estimated{background:#e7dcf7;color:#4b2a85}
.partial{background:#f8d0d0;color:#8a1111}.ok{background:#d5f0dc;color:#17602c}
.measured{background:#d7e8fb;color:#0d4a8a}.warn{color:#8a4300}
figure{margin:8px 0}figure img{max-width:100%;border:1px solid #eef0f3;border-radius:4px}
figcaption{font-size:12px;color:#5b6472}details summary{cursor:pointer;color:#33506e}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f0f2f5;padding:1px 4px;border-radius:3px}
footer{color:#6b7482;font-size:12px;margin-top:24px}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def table(head: Sequence[str], rows: Iterable[Sequence[object]], numeric_from: int = 1) -> str:
    """A table; cells from column `numeric_from` on are right-aligned (numbers)."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="num"' if i >= numeric_from else ""
            out.append(f"<td{cls}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def kv_table(rows: Iterable[tuple[str, object]]) -> str:
    return table(("field", "value"), rows, numeric_from=99)


def figure(png: bytes | None, caption: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{esc(caption)}</figcaption></figure>')


def section(title: str, body: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def markdown_tables(text: str) -> str:
    """The pipe tables and plain lines of edgefer's own table.md files, as HTML (no full Markdown)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: "):
            head = [c.strip() for c in line.strip("|").split("|")]
            body = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                body.append([c.strip().replace("**", "") for c in lines[i].strip("|").split("|")])
                i += 1
            out.append(table(head, body))
            continue
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(f"<h3>{esc(stripped.lstrip('#').strip())}</h3>")
        elif stripped:
            out.append(f"<p>{esc(stripped.lstrip('- ').replace('**', ''))}</p>")
        i += 1
    return "".join(out)


def page(title: str, subtitle: str, body: str, footer: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
            f"<main>{body}<footer>{esc(footer)}</footer></main></body></html>")
