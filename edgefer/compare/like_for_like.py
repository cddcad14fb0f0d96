"""Whether two bench reports measured the same thing the same way: the warnings of `edgefer compare`.

A ratio of two latencies means something only when the work (model, inputs) and the conditions
(board, runtime, threads, emulation, throttling, a partial run) are alike; each difference is one
warning line naming both reports.
"""

from __future__ import annotations


def environment_warnings(base: dict, other: dict, bl: str, ol: str) -> list[str]:
    """Differences that make the two measurements not like for like."""
    w = []
    be, oe = base.get("environment") or {}, other.get("environment") or {}
    br, orr = base.get("runtime") or {}, other.get("runtime") or {}
    bs, os_ = base.get("settings") or {}, other.get("settings") or {}

    def differs(what: str, a, b) -> None:
        if a != b:
            w.append(f"{ol} vs {bl}: {what} differs ({b!r} vs {a!r})")

    if bool(be.get("emulated")) != bool(oe.get("emulated")):
        def kind(e: dict) -> str:
            return f"emulated ({e.get('emulator') or 'emulator'})" if e.get("emulated") else "native"

        w.append(f"{ol} vs {bl}: {kind(oe)} vs {kind(be)}: "
                 "emulated timings say nothing about real hardware speed")
    differs("CPU model", be.get("cpu_model"), oe.get("cpu_model"))
    differs("machine", be.get("machine"), oe.get("machine"))
    differs("runtime", br.get("name"), orr.get("name"))
    if br.get("name") == orr.get("name"):
        differs("runtime version", br.get("version"), orr.get("version"))
    differs("runtime versions", be.get("runtime_versions"), oe.get("runtime_versions"))
    differs("threads", bs.get("threads", br.get("threads")), os_.get("threads", orr.get("threads")))
    differs("batch size", bs.get("batch_size"), os_.get("batch_size"))
    differs("governor", be.get("governor"), oe.get("governor"))
    for lab, rep in ((bl, base), (ol, other)):
        if rep.get("partial"):
            w.append(f"{lab} is a partial report ({rep.get('partial_reason') or 'interrupted'})")
        thr = (rep.get("environment") or {}).get("throttling")
        if isinstance(thr, dict) and any(bool(v) for v in thr.values() if isinstance(v, bool)):
            w.append(f"{lab}: throttling was reported during the run ({thr})")
    return w


def workload_warnings(base: dict, other: dict, bl: str, ol: str) -> list[str]:
    """Reports of different models or inputs: the ratio then compares different work."""
    w = []
    bm, om = (base.get("model") or {}).get("name"), (other.get("model") or {}).get("name")
    if bm and om and bm != om:
        w.append(f"{ol} vs {bl}: different models ({om} vs {bm})")
    shapes = lambda r: [i.get("shape") for i in ((r.get("runtime") or {}).get("inputs") or [])]  # noqa: E731
    if shapes(base) and shapes(other) and shapes(base) != shapes(other):
        w.append(f"{ol} vs {bl}: different inputs ({shapes(other)} vs {shapes(base)})")
    bsi = (base.get("settings") or {}).get("input_shape")
    osi = (other.get("settings") or {}).get("input_shape")
    if bsi != osi:
        w.append(f"{ol} vs {bl}: different --input-shape ({osi} vs {bsi})")
    return w
