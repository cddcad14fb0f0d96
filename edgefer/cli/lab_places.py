"""`edgefer targets list --labgrid ADDRESS`: a labgrid coordinator's places, their tags and holders."""

from __future__ import annotations

import json

import typer


def print_places(address: str, as_json: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from edgefer.lab import list_places

    places = list_places(address)
    if as_json:
        typer.echo(json.dumps(places, indent=2))
        return
    table = Table(title=f"labgrid places on {address}")
    for col in ("place", "tags", "held by", "board (NetworkService)", "comment"):
        table.add_column(col)
    for p in places:
        tags = " ".join(f"{k}={v}" for k, v in sorted(p["tags"].items()))
        held = p["acquired"] or ("reserved" if p["reserved"] else "free")
        boards = ", ".join(f"{s['username'] + '@' if s['username'] else ''}{s['address']}:{s['port']}"
                           for s in p["network_services"]) or "no NetworkService"
        table.add_row(*(escape(x) for x in (p["name"], tags, held, boards, p["comment"] or "")))
    Console().print(table)
    if not places:
        typer.echo("no places (create one with: labgrid-client -p NAME create)")
