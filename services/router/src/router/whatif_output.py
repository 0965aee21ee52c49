"""The what-if report for people: a terminal table, and one self-contained HTML page
(inline CSS and SVG charts, nothing fetched) that a browser opens from disk."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

MAX_MOVES_SHOWN = 30
SHORT_VERSION = len("sha256:") + 12
_COLUMNS = (
    ("contacts", "contacts", "{:d}"),
    ("in_house_share", "in-house", "{:.0%}"),
    ("outsourced_share", "outsourced", "{:.0%}"),
    ("cost", "cost", "{:,.0f}"),
    ("service_level", "SL", "{:.1%}"),
    ("avg_wait_s", "avg wait s", "{:.0f}"),
    ("p90_wait_s", "p90 wait s", "{:.0f}"),
    ("abandonment_share", "abandoned", "{:.1%}"),
    ("unanswered", "unanswered", "{:d}"),
)


def _cell(figures: dict[str, Any], key: str, fmt: str) -> str:
    value = figures.get(key)
    return "-" if value is None else fmt.format(value)


def _overflows(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in figures["overflows"].items()) or "-"


def _policy(report: dict[str, Any], which: str) -> str:
    """The policy's name (or which one it is) and its short version."""
    named = report[which]
    return f"{named['name'] or which} ({named['version'][:SHORT_VERSION]})"


def _rows(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    rows = [("all queues", run, report["total"][run]) for run in ("before", "after")]
    for queue in report["queues"]:
        rows += [
            (f"{queue['queue']} ({queue['kind']})", run, queue[run]) for run in ("before", "after")
        ]
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    )


def text_report(report: dict[str, Any]) -> str:
    period = report["period"]
    head = [
        f"what-if {_policy(report, 'candidate')} against {_policy(report, 'baseline')}",
        f"{period['from']} .. {period['to']}: {report['contacts']} contacts, seed {report['seed']},"
        f" SLA target share {report['sla_target_share']:.0%}",
        "",
    ]
    header = ["queue", "run", *(title for _, title, _ in _COLUMNS), "overflows"]
    rows = [
        [name, run, *(_cell(f, key, fmt) for key, _, fmt in _COLUMNS), _overflows(f)]
        for name, run, f in _rows(report)
    ]
    moves = report["moves"]
    moved = sum(m["contacts"] for m in moves)
    tail = ["", f"moved: {moved} of {report['contacts']} contacts"]
    if moves:
        tail.append(
            _table(
                ["from", "to", "why", "contacts"],
                [
                    [m["from"], m["to"], m["why"], str(m["contacts"])]
                    for m in moves[:MAX_MOVES_SHOWN]
                ],
            )
        )
    tail += ["", *(f"note: {n}" for n in report["notes"])]
    return "\n".join([*head, _table(header, rows), *tail])


# -- HTML -------------------------------------------------------------------------------

_W, _H, _PAD = 900, 260, 44
_COLOURS = {"before": "#8a8f98", "after": "#1f6feb", "in_house": "#1a7f37", "outsourced": "#bf8700"}


def _polyline(values: Sequence[float | None], top: float, colour: str, dashed: bool) -> str:
    n = max(1, len(values) - 1)
    parts: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            parts.append([])
            continue
        x = _PAD + i * (_W - 2 * _PAD) / n
        y = _H - _PAD - (v / top if top else 0) * (_H - 2 * _PAD)
        parts[-1].append(f"{x:.1f},{y:.1f}")
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{" ".join(p)}"/>'
        for p in parts
        if p
    )


def _chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str, bool]],
    top: float,
    percent: bool = False,
    guide: float | None = None,
) -> str:
    axis = "".join(
        f'<text x="{_PAD - 6}" y="{_H - _PAD - f * (_H - 2 * _PAD) + 4:.1f}" text-anchor="end">'
        f"{f * top:.0%}</text>"
        if percent
        else f'<text x="{_PAD - 6}" y="{_H - _PAD - f * (_H - 2 * _PAD) + 4:.1f}"'
        f' text-anchor="end">{f * top:.0f}</text>'
        for f in (0, 0.5, 1)
    )
    ticks = ""
    if labels:
        for i in sorted({0, len(labels) // 2, len(labels) - 1}):
            x = _PAD + i * (_W - 2 * _PAD) / max(1, len(labels) - 1)
            ticks += f'<text x="{x:.1f}" y="{_H - _PAD + 16}" text-anchor="middle">{escape(labels[i][:16])}</text>'
    lines = "".join(_polyline(values, top, colour, dashed) for _, values, colour, dashed in series)
    if guide is not None and top:
        y = _H - _PAD - guide / top * (_H - 2 * _PAD)
        lines += f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#cf222e" stroke-dasharray="2 3"/>'
    legend = " ".join(
        f'<span style="color:{colour}">{"- -" if dashed else "&mdash;"} {escape(name)}</span>'
        for name, _, colour, dashed in series
    )
    return (
        f"<h2>{escape(title)}</h2><p class=legend>{legend}</p>"
        f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-label="{escape(title)}">'
        f'<line x1="{_PAD}" x2="{_PAD}" y1="{_PAD}" y2="{_H - _PAD}" stroke="#ccc"/>'
        f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{_H - _PAD}" y2="{_H - _PAD}" stroke="#ccc"/>'
        f"{axis}{ticks}{lines}</svg>"
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(report: dict[str, Any]) -> str:
    iv = report["intervals"]
    labels = iv["start"]
    before, after = iv["before"], iv["after"]
    volume_top = max(
        [1, *before["in_house"], *before["outsourced"], *after["in_house"], *after["outsourced"]]
    )
    volume = _chart(
        f"Volume per {iv['seconds'] // 60} minutes: in-house and outsourced, before (dashed) and after",
        labels,
        [
            ("in-house before", before["in_house"], _COLOURS["in_house"], True),
            ("in-house after", after["in_house"], _COLOURS["in_house"], False),
            ("outsourced before", before["outsourced"], _COLOURS["outsourced"], True),
            ("outsourced after", after["outsourced"], _COLOURS["outsourced"], False),
        ],
        volume_top,
    )
    service = _chart(
        f"Service level per {iv['seconds'] // 60} minutes (red: the {report['sla_target_share']:.0%} target)",
        labels,
        [
            ("before", before["service_level"], _COLOURS["before"], True),
            ("after", after["service_level"], _COLOURS["after"], False),
        ],
        1.0,
        percent=True,
        guide=report["sla_target_share"],
    )
    header = ["queue", "run", *(title for _, title, _ in _COLUMNS), "overflows"]
    summary = _html_table(
        header,
        [
            [name, run, *(_cell(f, key, fmt) for key, _, fmt in _COLUMNS), _overflows(f)]
            for name, run, f in _rows(report)
        ],
    )
    moves = _html_table(
        ["from", "to", "why", "contacts"],
        [[m["from"], m["to"], m["why"], str(m["contacts"])] for m in report["moves"]],
    )
    period = report["period"]
    notes = "".join(f"<li>{escape(n)}</li>" for n in report["notes"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What-if: {escape(_policy(report, "candidate"))}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: 3px 8px; text-align: right; }}
th:nth-child(-n+3), td:nth-child(-n+3) {{ text-align: left; }}
svg text {{ font-size: 11px; fill: #57606a; }} .legend span {{ margin-right: 1.2em; }}
</style></head><body>
<h1>What-if replay</h1>
<p>Candidate <b>{escape(_policy(report, "candidate"))}</b> against
<b>{escape(_policy(report, "baseline"))}</b>: {report["contacts"]} recorded
contacts from {escape(period["from"])} to {escape(period["to"])}, seed {report["seed"]}.</p>
{volume}
{service}
<h2>Per queue</h2>{summary}
<h2>Contacts that move</h2>{moves}
<h2>How it was computed</h2><ul>{notes}</ul>
</body></html>
"""
