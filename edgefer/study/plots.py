"""Study plots (matplotlib, the optional `plot` extra): latency vs MACs per target with the
Pareto front, and per-target bars of latency with their 95% intervals."""

from __future__ import annotations

from pathlib import Path


def _points(result: dict) -> dict[str, list[dict]]:
    models = {m["id"]: m for m in result["models"]}
    by_target: dict[str, list[dict]] = {}
    for c in result["cells"]:
        lat = (c.get("figures") or {}).get("latency_ms")
        if not lat:
            continue
        m = models[c["model"]]
        by_target.setdefault(c["target"], []).append({
            "model": m["label"], "series": c["series"], "macs": m.get("macs"), "ms": lat["value"],
            "lo": lat["ci_low"], "hi": lat["ci_high"], "emulated": (c.get("figures") or {}).get("emulated")})
    return by_target


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both MACs and latency (lower is better), by MACs."""
    front, best = [], float("inf")
    for x, y in sorted(points):
        if y < best:
            front.append((x, y))
            best = y
    return front


def write_plots(result: dict, out: Path) -> dict[str, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError:
        return {}
    by_target = _points(result)
    if not by_target:
        return {}
    files = {}
    n = len(by_target)
    series = sorted({p["series"] for pts in by_target.values() for p in pts})
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(series)}

    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    for ax, (target, pts) in zip(axes[0], sorted(by_target.items())):
        with_macs = [p for p in pts if p["macs"]]
        for s in series:
            ps = [p for p in with_macs if p["series"] == s]
            if ps:
                ax.errorbar([p["macs"] / 1e6 for p in ps], [p["ms"] for p in ps],
                            yerr=[[p["ms"] - p["lo"] for p in ps], [p["hi"] - p["ms"] for p in ps]],
                            fmt="o", color=colors[s], label=s, capsize=3)
                for p in ps:
                    ax.annotate(p["model"], (p["macs"] / 1e6, p["ms"]), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
        front = pareto_front([(p["macs"] / 1e6, p["ms"]) for p in with_macs])
        if front:  # ringed: no other cell on this target has both fewer MACs and lower latency
            ax.step([x for x, _ in front], [y for _, y in front], where="post", color="gray", ls="--", lw=1)
            ax.plot([x for x, _ in front], [y for _, y in front], "o", mfc="none", mec="black", ms=11,
                    label="Pareto front")
        emu = " (EMULATED)" if any(p["emulated"] for p in pts) else ""
        ax.set_title(f"{target}{emu}")
        ax.set_xlabel("MACs (M), batch 1")
        ax.set_ylabel("latency per sample (ms)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers; a narrow log range gets unreadable 10^x minors
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    files["latency_vs_macs"] = str(out / "latency_vs_macs.png")
    fig.savefig(files["latency_vs_macs"], dpi=130)
    plt.close(fig)

    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    for ax, (target, pts) in zip(axes[0], sorted(by_target.items())):
        models = list(dict.fromkeys(p["model"] for p in pts))
        width = 0.8 / max(1, len(series))
        for i, s in enumerate(series):
            ps = {p["model"]: p for p in pts if p["series"] == s}
            xs = [j + i * width for j, m in enumerate(models) if m in ps]
            vals = [ps[m] for m in models if m in ps]
            if vals:
                ax.bar(xs, [p["ms"] for p in vals], width, color=colors[s], label=s,
                       yerr=[[p["ms"] - p["lo"] for p in vals], [p["hi"] - p["ms"] for p in vals]], capsize=2)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(models))])
        ax.set_xticklabels(models, rotation=20, ha="right", fontsize=8)
        emu = " (EMULATED)" if any(p["emulated"] for p in pts) else ""
        ax.set_title(f"{target}{emu}")
        ax.set_ylabel("latency per sample (ms), 95% interval")
        ax.legend(fontsize=7)
    fig.tight_layout()
    files["bars"] = str(out / "latency_bars.png")
    fig.savefig(files["bars"], dpi=130)
    plt.close(fig)
    return files
