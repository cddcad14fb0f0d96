"""The sustained-run plot: per-second latency (p50, p99) and deadline misses over time, with the
hottest thermal zone and CPU frequency on a second axis (matplotlib, host side, Agg)."""

from __future__ import annotations

from typing import Any

from edgefer.report.plots import _pyplot, _save


def plot_timeline(report: dict[str, Any], out: str) -> str:
    plt = _pyplot()
    rows = report.get("timeline") or []
    t = [r["t_s"] for r in rows]
    fig, (ax, ax_state) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    p50 = [r["latency_p50_ms"] for r in rows]
    p99 = [r["latency_p99_ms"] for r in rows]
    paced = report.get("paced")
    what = "arrival -> result" if paced else "end to end"
    ax.plot(t, p50, marker=".", label=f"latency p50 ({what})")
    ax.plot(t, p99, marker=".", label=f"latency p99 ({what})")
    if paced:
        ax.axhline(1000.0 / paced["fps"], color="grey", ls="--", lw=1, label=f"frame period ({paced['fps']:g} fps)")
        misses = [r["late"] + r["dropped"] for r in rows]
        ax2 = ax.twinx()
        ax2.bar(t, misses, color="tab:red", alpha=0.25, width=0.8, label="deadline misses / s")
        ax2.set_ylabel("deadline misses per second")
        ax2.set_ylim(0, max(1, max(misses, default=0) * 1.15))  # counts: no negative axis when there are none
        ax2.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("ms")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    temps = [r["temperature_c"] for r in rows]
    freqs = [r["cpu_freq_mhz"] for r in rows]
    if any(v is not None for v in temps):
        ax_state.plot(t, [v if v is not None else float("nan") for v in temps], color="tab:orange", marker=".",
                      label="temperature, hottest zone (°C)")
        ax_state.set_ylabel("°C")
        ax_state.legend(loc="upper left", fontsize=8)
    else:
        ax_state.text(0.5, 0.75, "no thermal zone readable on this machine", transform=ax_state.transAxes,
                      ha="center", color="grey")
        ax_state.set_yticks([])
    if any(v is not None for v in freqs):
        ax_f = ax_state.twinx()
        ax_f.plot(t, [v if v is not None else float("nan") for v in freqs], color="tab:green", marker=".",
                  label="CPU frequency (MHz, mean)")
        ax_f.set_ylabel("MHz")
        ax_f.legend(loc="upper right", fontsize=8)
    ax_state.set_xlabel("time since start (s)")
    env = report.get("environment") or {}
    where = (report.get("target") or {}).get("name") or env.get("hostname")
    if env.get("emulated"):
        where = f"{where} (EMULATED)"
    title = (f"{(report.get('classifier') or {}).get('file')} + {(report.get('detector') or {}).get('kind')} on {where}"
             + (f": {paced['fps']:g} fps, {paced['processed']}/{paced['offered']} frames, "
                f"{paced['deadline_misses']} deadline misses" if paced else ""))
    fig.suptitle(title, fontsize=10)
    out = _save(fig, out)
    plt.close(fig)
    return out
