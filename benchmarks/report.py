"""Turn the measurements into rows with ratios and targets, a table, a plot and the docs."""

from __future__ import annotations

import math
import shutil
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAMES = {
    "ads": "aiodockerspawner",
    "ds": "dockerspawner 14.0.0",
    "raw": "raw aiodocker",
    "floor": "Hub floor",
}
KEYS = ("ads", "ds", "raw", "floor")
MiB = 1 << 20
DOCS_START = "<!-- bench:start -->"
DOCS_END = "<!-- bench:end -->"


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _get(data: dict[str, Any], scenario: str, key: str, field: str) -> float | None:
    entry = data["results"].get(scenario, {}).get(key)
    if entry is None:
        return None
    if isinstance(entry, list):  # repetitions: the median
        values = [float(e[field]) for e in entry if e.get(field) is not None]
        return _median(values) if values else None
    value = entry.get(field)
    return None if value is None else float(value)


def _row(
    data: dict[str, Any],
    label: str,
    scenario: str,
    field: str,
    unit: str,
    *,
    scale: float = 1.0,
    target: str = "",
    check: Any = None,
) -> dict[str, Any] | None:
    values = {}
    for key in KEYS:
        v = _get(data, scenario, key, field)
        if v is not None:
            values[key] = v * scale
    return _row_of(label, unit, values, target=target, check=check)


def _row_of(
    label: str, unit: str, values: dict[str, float], *, target: str = "", check: Any = None
) -> dict[str, Any] | None:
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return None
    row: dict[str, Any] = {"metric": label, "unit": unit, "values": values}
    ads, ds, raw = values.get("ads"), values.get("ds"), values.get("raw")
    row["ads_vs_ds"] = ads / ds if ads is not None and ds else None
    row["ads_vs_raw"] = ads / raw if ads is not None and raw else None
    row["target"] = target
    row["met"] = bool(check(row)) if check is not None and ads is not None else None
    return row


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    plan = data["meta"]["plan"]
    grace = plan["grace"]
    out: list[dict[str, Any] | None] = []
    big_n = 50 if 50 in plan["spawn_ns"] else max(plan["spawn_ns"])
    for n in plan["spawn_ns"]:
        sc = f"spawn_tiny_n{n}"
        if n == big_n:
            target = "<= 1.25x raw, <= 0.5x dockerspawner"

            def check(r: dict[str, Any]) -> bool:
                return bool(
                    (r["ads_vs_raw"] is None or r["ads_vs_raw"] <= 1.25)
                    and (r["ads_vs_ds"] is None or r["ads_vs_ds"] <= 0.5)
                )

            out.append(
                _row(
                    data,
                    f"1. spawn {n} tiny: all ready",
                    sc,
                    "total",
                    "s",
                    target=target,
                    check=check,
                )
            )
        else:
            out.append(_row(data, f"1. spawn {n} tiny: all ready", sc, "total", "s"))
        if n > 1:
            out.append(_row(data, f"1. spawn {n} tiny: p50", sc, "p50", "s"))
            out.append(_row(data, f"1. spawn {n} tiny: p95", sc, "p95", "s"))
        if n == big_n:
            out.append(_row(data, f"1. spawn {n} tiny: Hub CPU", sc, "hub_cpu", "s"))
            out.append(_row(data, f"1. spawn {n} tiny: dockerd CPU", sc, "dockerd_cpu", "s"))
    for n in plan["stop_ns"]:
        sc = f"stop_ignoring_n{n}"
        if n == max(plan["stop_ns"]):
            out.append(
                _row(
                    data,
                    f"2. stop {n} ignoring SIGTERM (grace {grace}s)",
                    sc,
                    "total",
                    "s",
                    target=f"<= {grace + 3}s",
                    check=lambda r: r["values"]["ads"] <= grace + 3,
                )
            )
        else:
            out.append(
                _row(data, f"2. stop {n} ignoring SIGTERM (grace {grace}s)", sc, "total", "s")
            )
    for n in plan["spawn_ns"]:
        if n > 1:
            out.append(
                _row(data, f"2b. stop {n} exiting on SIGTERM", f"stop_exiting_n{n}", "total", "s")
            )
    k = plan["real_n"]
    out.append(_row(data, f"3. spawn {k} single-user: all ready", f"spawn_real_n{k}", "total", "s"))
    out.append(_row(data, f"3. spawn {k} single-user: p50", f"spawn_real_n{k}", "p50", "s"))
    out.append(
        _row(
            data,
            "4. Docker requests per plain start",
            "docker_requests",
            "plain_start_requests",
            "req",
            target="<= 4",
            check=lambda r: r["values"]["ads"] <= 4,
        )
    )
    pn = plan["poll_n"]
    out.append(
        _row(
            data,
            f"4. Docker requests per minute, {pn} servers polled",
            "docker_requests",
            "requests_per_minute",
            "req/min",
        )
    )
    out.append(
        _row(
            data,
            "4. Docker requests per poll (steady state)",
            "docker_requests",
            "requests_per_poll",
            "req",
            target="0 (<= 0.05)",
            check=lambda r: r["values"]["ads"] <= 0.05,
        )
    )
    ln = plan["lag_n"]
    out.append(
        _row(
            data,
            f"5. Hub loop lag p99 during {ln} spawns",
            "loop_lag",
            "p99",
            "ms",
            scale=1000,
            target="< 20 ms",
            check=lambda r: r["values"]["ads"] < 20,
        )
    )
    out.append(
        _row(data, f"5. Hub loop lag max during {ln} spawns", "loop_lag", "max", "ms", scale=1000)
    )
    out.extend(_cpu_rows(data, ln))
    out.append(_row(data, "6. cached spawn, alone", "head_of_line", "baseline", "s"))
    out.append(_row(data, "6. cached spawn, during a slow pull", "head_of_line", "during", "s"))
    out.append(
        _row(
            data,
            "6. slowdown during the pull (during / alone)",
            "head_of_line",
            "ratio",
            "x",
            target="< 1.2x",
            check=lambda r: r["values"]["ads"] < 1.2,
        )
    )
    out.append(_row(data, "7. Hub RSS, idle", "rss_idle", "rss", "MiB", scale=1 / MiB))
    out.append(
        _row(
            data,
            f"7. Hub RSS, {plan['rss_n']} servers running",
            "rss_running",
            "rss",
            "MiB",
            scale=1 / MiB,
        )
    )
    sn = plan.get("swarm_n")
    if sn:
        sc = f"swarm_spawn_n{sn}"
        out.append(_row(data, f"8. Swarm: spawn {sn} tiny: all ready", sc, "total", "s"))
        out.append(_row(data, f"8. Swarm: spawn {sn} tiny: p50", sc, "p50", "s"))
        out.append(_row(data, f"8. Swarm: spawn {sn} tiny: p95", sc, "p95", "s"))
        out.append(_row(data, f"8. Swarm: spawn {sn} tiny: Hub CPU", sc, "hub_cpu", "s"))
        out.append(
            _row(data, f"8. Swarm: stop {sn} (SIGTERM exits)", f"swarm_stop_n{sn}", "total", "s")
        )
        out.append(
            _row(
                data,
                "8. Swarm: Docker requests per plain start",
                "swarm_docker_requests",
                "plain_start_requests",
                "req",
            )
        )
        out.append(
            _row(
                data,
                f"8. Swarm: Docker requests per poll interval, {pn} servers",
                "swarm_docker_requests",
                "requests_per_interval",
                "req",
                target="<= 1",
                check=lambda r: r["values"]["ads"] <= 1.0,
            )
        )
        out.append(
            _row(
                data,
                f"8. Swarm: Docker requests per minute, {pn} servers polled",
                "swarm_docker_requests",
                "requests_per_minute",
                "req/min",
            )
        )
    out.extend(_scale_rows(data))
    return [r for r in out if r is not None]


def _cpu_rows(data: dict[str, Any], n: int) -> list[dict[str, Any] | None]:
    """The Hub's CPU per spawn in the lag batch, and the spawner's share over the floor."""
    per_spawn = {k: _get(data, f"spawn_tiny_n{n}", k, "hub_cpu") for k in ("ads", "ds", "floor")}
    per_spawn = {k: v * 1000 / n for k, v in per_spawn.items() if v is not None}
    floor = per_spawn.get("floor")
    own = {k: v - floor for k, v in per_spawn.items() if floor is not None and k != "floor"}
    profiles = data["results"].get("profile", {})
    share = {k: p["spawner_share"] * 100 for k, p in profiles.items() if k != "floor"}
    sampled = {
        k: p["spawner_share"] * p["hub_cpu"] * 1000 / p["n"]
        for k, p in profiles.items()
        if k != "floor"
    }
    return [
        _row_of(f"5. Hub CPU per spawn, batch of {n}", "ms", per_spawn),
        _row_of(f"5. spawner's CPU per spawn (Hub CPU over the floor's), batch of {n}", "ms", own),
        _row_of("5. spawner's share of the Hub's samples (py-spy)", "%", share),
        _row_of("5. spawner's CPU per spawn (that share of the Hub's CPU)", "ms", sampled),
    ]


def _scale(data: dict[str, Any], key: str, *path: str) -> float | None:
    value: Any = data["results"].get("scale", {}).get(key)
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return float(value) if isinstance(value, (int, float)) else None


def _scale_rows(data: dict[str, Any]) -> list[dict[str, Any] | None]:
    scale = data["results"].get("scale", {})
    if not scale:
        return []
    n = max(int(e["plan"]["n"]) for e in scale.values())
    killed = max(int(e["plan"]["killed"]) for e in scale.values())
    keys = ("ads", "ds")

    def row(label: str, unit: str, *path: str, mul: float = 1.0, **kw: Any) -> Any:
        values = {}
        for k in keys:
            v = _scale(data, k, *path)
            if v is not None:
                values[k] = v * mul
        return _row_of(f"9. {label}", unit, values, **kw)

    marks = sorted({int(m) for e in scale.values() for m in e.get("spawn20", {})})
    out = []
    for m in marks:
        out.append(row(f"20 spawns with {m} running: p50", "s", "spawn20", str(m), "p50"))
        out.append(row(f"20 spawns with {m} running: p95", "s", "spawn20", str(m), "p95"))
        out.append(
            row(
                f"Docker alone, 20 create+start with {m} running: p50",
                "s",
                "docker20",
                str(m),
                "p50",
            )
        )
    if marks:
        ratios = {}
        for k in keys:
            low, high = (
                _scale(data, k, "spawn20", "0", "p50"),
                _scale(data, k, "spawn20", str(n), "p50"),
            )
            if low and high is not None:
                ratios[k] = high / low
        out.append(
            _row_of(
                f"9. 20-spawn p50 with {n} running / with 0",
                "x",
                ratios,
                target="<= 1.5x",
                check=lambda r: r["values"]["ads"] <= 1.5,
            )
        )
    rates = {}
    for k in keys:
        fills = (scale.get(k) or {}).get("fill") or []
        total = sum(f["to"] - f["from"] for f in fills)
        seconds = sum(f["seconds"] for f in fills)
        if seconds:
            rates[k] = total / seconds
    out.append(_row_of("9. servers spawned per second (batches of 50)", "1/s", rates))
    out.append(
        row(f"Docker requests per minute, {n} idle", "req/min", "idle", "requests_per_minute")
    )
    out.append(
        row(
            f"Docker requests per poll, {n} idle",
            "req",
            "idle",
            "requests_per_poll",
            target="0 (<= 0.05)",
            check=lambda r: r["values"]["ads"] <= 0.05,
        )
    )
    out.append(row(f"Hub RSS, {n} running", "MiB", "hub_rss", mul=1 / MiB))
    out.append(
        row(f"events cache memory, {n} running", "MiB", "cache_memory", "bytes", mul=1 / MiB)
    )
    out.append(
        row(
            "dockerd SIGKILL + restart: cache right again",
            "s",
            "daemon_restart",
            "cache_right_after",
        )
    )
    out.append(
        row(
            f"dockerd SIGKILL + restart: Hub reports the {killed} killed servers",
            "s",
            "daemon_restart",
            "hub_noticed_after",
        )
    )
    out.append(
        row("Hub SIGKILL + restart: all adopted and ready", "s", "hub_restart", "all_ready_after")
    )
    out.append(row("Hub SIGKILL + restart: servers adopted", "", "hub_restart", "adopted"))
    out.append(
        row(
            "Hub SIGKILL + restart: duplicates",
            "",
            "hub_restart",
            "duplicates",
            target="0",
            check=lambda r: r["values"]["ads"] == 0,
        )
    )
    out.append(
        row(
            "Hub SIGKILL + restart: lost",
            "",
            "hub_restart",
            "lost",
            target="0",
            check=lambda r: r["values"]["ads"] == 0,
        )
    )
    out.append(row(f"stop all {n - killed} at once", "s", "stop_all", "total"))
    out.append(
        row(
            "containers still running when the Hub reports all stopped",
            "",
            "stop_all",
            "still_running",
            target="0",
            check=lambda r: r["values"]["ads"] == 0,
        )
    )
    return out


def unfinished(data: dict[str, Any]) -> list[str]:
    """Lines saying which contender did not finish scenario 9 in its budget, and where."""
    lines = []
    for key, entry in data["results"].get("scale", {}).items():
        if entry.get("unfinished"):
            budget = entry["plan"]["budget"]
            lines.append(
                f"{NAMES[key]} did not finish scenario 9 within its {budget:.0f} s budget: "
                f"it was at '{entry['unfinished']}' (the rows after that are empty)."
            )
    return lines


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit in ("req", "MiB", "req/min") and abs(v) >= 10:
        return f"{v:.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(rs: list[dict[str, Any]]) -> str:
    """A Markdown table (reads fine in a terminal too).

    ``ads / ds`` and ``ads / raw`` divide aiodockerspawner's figure by the
    other's: below 1 means aiodockerspawner took less time (or made fewer
    requests, or used less memory).
    """
    head = [
        "scenario",
        "unit",
        NAMES["ads"],
        NAMES["ds"],
        NAMES["raw"],
        NAMES["floor"],
        "ads / ds",
        "ads / raw",
        "target",
        "met",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        v = r["values"]
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        cells = [
            r["metric"],
            r["unit"],
            _fmt(v.get("ads"), r["unit"]),
            _fmt(v.get("ds"), r["unit"]),
            _fmt(v.get("raw"), r["unit"]),
            _fmt(v.get("floor"), r["unit"]),
            _fmt(r["ads_vs_ds"]) + ("x" if r["ads_vs_ds"] is not None else ""),
            _fmt(r["ads_vs_raw"]) + ("x" if r["ads_vs_raw"] is not None else ""),
            r["target"],
            met,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(data: dict[str, Any], png: Path) -> bool:
    """Four panels: spawn time vs N, stops, head-of-line, Docker requests."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is not installed: no plot")
        return False
    res = data["results"]
    plan = data["meta"]["plan"]
    colors = {"ads": "#1f77b4", "ds": "#d62728", "raw": "#7f7f7f", "floor": "#2ca02c"}
    keys = [k for k in ("ads", "ds", "raw") if any(k in v for v in res.values())]
    fig, axes = plt.subplots(3, 2, figsize=(11, 12))

    ax = axes[0][0]
    for k in keys:
        ns, totals = [], []
        for n in plan["spawn_ns"]:
            v = _get(data, f"spawn_tiny_n{n}", k, "total")
            if v is not None:
                ns.append(n)
                totals.append(v)
        if ns:
            ax.plot(ns, totals, marker="o", label=NAMES[k], color=colors[k])
    ax.set_title("1. N concurrent spawns (tiny image): all ready")
    ax.set_xlabel("N")
    ax.set_ylabel("seconds")
    ax.legend()
    ax.grid(alpha=0.3)

    def bars(ax: Any, groups: list[tuple[str, str, str]], title: str, ylabel: str) -> None:
        width = 0.8 / max(len(keys), 1)
        for i, k in enumerate(keys):
            xs, ys = [], []
            for j, (_label, sc, field) in enumerate(groups):
                v = _get(data, sc, k, field)
                if v is not None:
                    xs.append(j + i * width)
                    ys.append(v)
            ax.bar(xs, ys, width, label=NAMES[k], color=colors[k])
            for x, y in zip(xs, ys, strict=True):
                ax.annotate(f"{y:.1f}", (x, y), ha="center", va="bottom", fontsize=7)
        ax.set_xticks([j + width * (len(keys) - 1) / 2 for j in range(len(groups))])
        ax.set_xticklabels([g[0] for g in groups])
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")

    bars(
        axes[0][1],
        [(f"N={n}", f"stop_ignoring_n{n}", "total") for n in plan["stop_ns"]],
        f"2. N concurrent stops, SIGTERM ignored (grace {plan['grace']} s)",
        "seconds",
    )
    bars(
        axes[1][0],
        [
            ("alone", "head_of_line", "baseline"),
            ("during slow pull", "head_of_line", "during"),
            (f"{plan['real_n']} single-user", f"spawn_real_n{plan['real_n']}", "total"),
        ],
        "6. cached spawn alone / during a pull; 3. real image",
        "seconds",
    )
    bars(
        axes[1][1],
        [
            ("per plain start", "docker_requests", "plain_start_requests"),
            ("per poll (steady state)", "docker_requests", "requests_per_poll"),
        ],
        "4. Docker API requests",
        "requests",
    )
    _plot_lag(axes[2][0], data, colors)
    _plot_scale(axes[2][1], data, colors)
    m = data["meta"]["machine"]
    fig.suptitle(
        f"aiodockerspawner vs dockerspawner 14.0.0 vs raw aiodocker - {m['cpus']} cores, "
        f"Docker {m['docker'].split(' ')[0]} ({data['meta']['started']})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return True


def _plot_lag(ax: Any, data: dict[str, Any], colors: dict[str, str]) -> None:
    """Scenario 5: loop lag p99 and the Hub's CPU per spawn, with the Hub floor."""
    n = data["meta"]["plan"]["lag_n"]
    keys = [k for k in ("ads", "ds", "floor") if _get(data, "loop_lag", k, "p99") is not None]
    for i, k in enumerate(keys):
        lag = (_get(data, "loop_lag", k, "p99") or 0) * 1000
        cpu = (_get(data, f"spawn_tiny_n{n}", k, "hub_cpu") or 0) * 1000 / n
        xs = [0 + i * 0.25, 1 + i * 0.25]
        ax.bar(xs, [lag, cpu], 0.25, label=NAMES[k], color=colors[k])
        for x, y in zip(xs, [lag, cpu], strict=True):
            ax.annotate(f"{y:.1f}", (x, y), ha="center", va="bottom", fontsize=7)
    ax.set_xticks([0.25, 1.25])
    ax.set_xticklabels([f"loop lag p99 during {n} spawns", "Hub CPU per spawn"])
    ax.set_ylabel("ms")
    ax.set_title(f"5. the Hub's loop during {n} spawns, against the Hub floor")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def _plot_scale(ax: Any, data: dict[str, Any], colors: dict[str, str]) -> None:
    """Scenario 9: p50 and p95 of 20 new spawns against the servers already running."""
    scale = data["results"].get("scale", {})
    for k in ("ads", "ds"):
        spawn20 = (scale.get(k) or {}).get("spawn20") or {}
        marks = sorted(int(m) for m in spawn20)
        if not marks:
            continue
        p50 = [spawn20[str(m)]["p50"] for m in marks]
        p95 = [spawn20[str(m)]["p95"] for m in marks]
        ax.plot(marks, p50, marker="o", color=colors[k], label=f"{NAMES[k]} p50")
        ax.plot(marks, p95, marker="^", ls="--", color=colors[k], label=f"{NAMES[k]} p95")
    ax.set_xlabel("servers already running")
    ax.set_ylabel("seconds")
    ax.set_title("9. 20 new spawns on one daemon, by servers running")
    if scale:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def write_docs(data: dict[str, Any], rs: list[dict[str, Any]], json_path: Path, png: Path) -> None:
    """Replace the generated part of docs/performance.md and its plot."""
    docs = ROOT / "docs" / "performance.md"
    target_png = ROOT / "docs" / "performance.png"
    shutil.copyfile(png, target_png)
    m = data["meta"]["machine"]
    v = data["meta"]["versions"]
    lines = [
        DOCS_START,
        f"Run of {data['meta']['started']} (`{data['meta']['command']}`, "
        f"{data['meta']['wall_seconds']:.0f} s wall time; raw data in "
        f"`{json_path.relative_to(ROOT)}`).",
        "",
        table(rs),
        "",
        "![benchmark plot](performance.png)",
        "",
        "Machine:",
        "",
        f"- {m['cpus']} cores ({m['cpu']}), {m['memory_bytes'] / (1 << 30):.0f} GiB, {m['os']}, "
        f"kernel {m['kernel']}",
        f"- Docker Engine {m['docker']}, {m['docker_storage']}; "
        f"configurable-http-proxy {m['configurable_http_proxy']}",
        f"- aiodockerspawner's Hub: {v.get('ads', '')} "
        f"(source: {data['meta'].get('aiodockerspawner_source', '?')})",
        f"- dockerspawner's Hub: {v.get('ds', '')}",
        DOCS_END,
    ]
    text = docs.read_text()
    start, end = text.index(DOCS_START), text.index(DOCS_END) + len(DOCS_END)
    docs.write_text(text[:start] + "\n".join(lines) + text[end:])
