"""bench/field.py's table: every measure, the proxies side by side, ratios to the Node
proxy and issue 24's targets (each a ratio to the Node proxy in the same run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TRANSLATED = ("OpenAI chat", "Anthropic Messages", "Responses")


@dataclass(frozen=True)
class Row:
    label: str
    value: Callable[[dict, dict], float | None]  # (a proxy's results, direct's) -> figure
    fmt: str = "{:.3f}"
    target: str = ""  # "<= 0.3" or ">= 3"
    # The Node figure the ratio divides by, when it is not this row's own (a lane's
    # target is a ratio to the Node proxy's OpenAI lane).
    reference: Callable[[dict, dict], float | None] | None = None
    ratio: bool = True


def lane_value(lane: str, key: str, added: bool = True) -> Callable[[dict, dict], float | None]:
    def get(results: dict, direct: dict) -> float | None:
        if lane not in results or results[lane][key] is None:
            return None
        return results[lane][key] - (direct[lane][key] if added else 0.0)

    return get


def nested(*keys: str) -> Callable[[dict, dict], float | None]:
    def get(results: dict, _direct: dict) -> float | None:
        for key in keys:
            if not isinstance(results, dict) or results.get(key) is None:
                return None
            results = results[key]
        return float(results)  # type: ignore[arg-type]

    return get


def rows(bound: float) -> list[Row]:
    out = [
        Row("native: added latency p50 (ms)", lane_value("native", "p50"), target="<= 0.3"),
        Row("native: added latency p99 (ms)", lane_value("native", "p99"), target="<= 0.5"),
        Row("native: CPU per call (ms)", lane_value("native", "cpu_ms", added=False), target="<= 0.35"),
        Row("native: streamed TTFB, added (ms)", lane_value("native", "ttfb")),
        Row("native: inter-chunk gap p50 (ms)", lane_value("native", "gap50", added=False)),
        Row("native: inter-chunk gap p99 (ms)", lane_value("native", "gap99", added=False)),
    ]
    openai_p50 = lane_value("OpenAI chat", "p50")
    for lane in TRANSLATED:
        out += [
            Row(f"{lane}: added latency p50 (ms)", lane_value(lane, "p50"), target="<= 0.4", reference=openai_p50),
            Row(f"{lane}: added latency p99 (ms)", lane_value(lane, "p99")),
            Row(f"{lane}: CPU per call (ms)", lane_value(lane, "cpu_ms", added=False)),
            Row(f"{lane}: streamed TTFB, added (ms)", lane_value(lane, "ttfb")),
            Row(f"{lane}: inter-chunk gap p99 (ms)", lane_value(lane, "gap99", added=False)),
        ]
    out += [
        Row(f"native req/s, highest concurrency with p99 <= {bound:g} ms", nested("rps", "rps"), "{:.0f}", ">= 3"),
        Row("  at concurrency", nested("rps", "concurrency"), "{:.0f}", ratio=False),
        Row("  its p99 (ms)", nested("rps", "p99"), "{:.1f}", ratio=False),
        Row("  CPU per call there (ms)", nested("rps", "cpu_ms")),
        Row("RSS when ready (MB)", nested("rss_ready"), "{:.1f}"),
        Row("RSS peak, all phases (MB)", nested("rss_peak"), "{:.1f}"),
        Row("cold start: spawn to readiness (ms)", nested("cold", "ready"), "{:.0f}"),
        Row("cold start: spawn to first proxied answer (ms)", nested("cold", "first"), "{:.0f}", "<= 1.0"),
    ]
    return out


def met(ratio: float, target: str) -> bool:
    op, limit = target.split()
    return ratio <= float(limit) if op == "<=" else ratio >= float(limit)


def table(targets: list, args, machine: str, described: list[str], events: int, gap_ms: float) -> str:
    """`targets`: bench/field.py's Running objects, `direct` first."""
    direct = targets[0].results
    names = [t.name for t in targets]
    by_name = {t.name: t.results for t in targets}
    has_ratio = "ours" in by_name and "node" in by_name
    head = f"{'measure':<56}" + "".join(f"{n:>10}" for n in names)
    if has_ratio:
        head += f"{'ours/node':>11}{'target':>9}{'met':>5}"
    lines = [
        f"Field benchmark: {args.requests} interleaved sequential calls and {args.streams} streams "
        f"({events} events {gap_ms:g} ms apart) per lane and proxy, cold starts median of {args.spawns}",
        f"machine: {machine}",
        *described,
        "",
        head,
    ]
    score = []
    for row in rows(args.p99_bound):
        values = [row.value(by_name[n], direct) if by_name.get(n) else None for n in names]
        if all(v is None for v in values):
            continue
        line = f"{row.label:<56}" + "".join(f"{row.fmt.format(v) if v is not None else '-':>10}" for v in values)
        if has_ratio and row.ratio:
            ours = row.value(by_name["ours"], direct)
            node = (row.reference or row.value)(by_name["node"], direct)
            if ours is not None and node:
                ratio = ours / node
                line += f"{ratio:>10.2f}x"
                if row.target:
                    ok = met(ratio, row.target)
                    score.append(ok)
                    line += f"{row.target:>9}{'yes' if ok else 'NO':>5}"
        lines.append(line)
    lines.append("")
    lines.append(
        "added = the proxy's percentile minus the direct call's in the same rounds; a translated lane's "
        "target divides by the Node proxy's OpenAI-chat figure"
    )
    if score:
        lines.append(f"targets met: {sum(score)} of {len(score)}")
    return "\n".join(lines)
