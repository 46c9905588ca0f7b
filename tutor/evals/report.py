"""Write an eval run as report.json, report.md and a self-contained report.html, and
compare two runs.

The HTML has no external assets: charts are inline SVG, all text is escaped.
"""

from __future__ import annotations

import gzip
import html
import json
from pathlib import Path
from typing import Any

from tutor.errors import TutorError
from tutor.evals.run import SUMMARY_KEYS


def failures(rec: dict[str, Any]) -> list[str]:
    """Why a question counts as a failure (empty when it does not)."""
    m, why = rec["metrics"], []
    if rec["kind"] == "unanswerable":
        if not rec["abstained"]:
            why.append("answered a question the guide does not cover")
        return why
    if rec["abstained"]:
        why.append(f"abstained on a covered question ({rec['abstain_reason']})")
    if m.get("recall_at_k", 1) < 1:
        why.append("retrieval missed gold evidence")
    if m["citations_ok"] < m["citations"]:
        why.append(
            f"{m['citations'] - m['citations_ok']} citation(s) neither on the evidence "
            "nor supporting their sentence"
        )
    if m["shown_supported"] < m["shown"]:
        why.append(f"{m['shown'] - m['shown_supported']} shown sentence(s) unsupported")
    if not rec["abstained"] and m.get("key_fact_recall", 1) < 0.5:
        why.append("key facts missing")
    return why


def _flat(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = [("n_questions", summary["n_questions"])]
    for group, keys in SUMMARY_KEYS.items():
        rows.extend((f"{group}.{k}", summary[group][k]) for k in keys)
    return rows


def _table(groups: dict[str, Any]) -> list[str]:
    """Markdown rows: one metric a row, one group (split, kind, style) a column."""
    names = list(groups)
    out = [
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| n_questions | " + " | ".join(str(groups[x]["n_questions"]) for x in names) + " |",
    ]
    for group, keys in SUMMARY_KEYS.items():
        for k in keys:
            out.append(
                f"| {group}.{k} | " + " | ".join(_fmt(groups[x][group][k]) for x in names) + " |"
            )
    return out


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"# Eval report — {report['meta']['started']}",
        "",
        f"model `{report['meta']['model']}`, k={report['meta']['k']}, "
        f"commit `{report['meta']['git_commit']}`, split `{s.get('split', 'all')}`, "
        f"{s['n_questions']} questions, "
        f"{report['meta']['wall_s']:.0f} s",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in _flat(s)]
    for title, key in (("By split", "by_split"), ("By kind", "by_kind"), ("By style", "by_style")):
        if report.get(key):
            lines += ["", f"## {title}", "", *_table(report[key])]
    rc = report.get("risk_coverage") or {}
    if rc:
        lines += [
            "",
            "## Abstention: risk and coverage",
            "",
            f"Area under precision-vs-coverage {_fmt(rc['area'])}; coverage at precision "
            f"0.9: {_fmt(rc['coverage_at_precision_0.9'])}.",
            "",
            "| coverage | " + " | ".join(rc["precision_at_coverage"]) + " |",
            "|---|" + "---|" * len(rc["precision_at_coverage"]),
            "| precision | "
            + " | ".join(_fmt(v) for v in rc["precision_at_coverage"].values())
            + " |",
        ]
    lines += ["", "## Latency (s)", ""]
    lines += [f"- {k}: {_fmt(v)}" for k, v in report["latency"].items()]
    fails = [q for q in report["questions"] if failures(q)]
    lines += ["", f"## Failures ({len(fails)})", ""]
    for q in fails:
        lines += [
            f"### {q['id']} ({q['kind']}): {q['question']}",
            "",
            "- why: " + "; ".join(failures(q)),
            f"- answer: {q['answer']}",
            "- cited: "
            + (
                "; ".join(
                    f"[{c['n']}] {c['section_path']} (lines {c['start_line']}–{c['end_line']})"
                    for c in q["citations"]
                )
                or "nothing"
            ),
            f"- gold section: {q['gold_section'] or '–'}",
            "- gold evidence: " + (" / ".join(f"“{e}”" for e in q["gold_evidence"]) or "–"),
            "",
        ]
    return "\n".join(lines) + "\n"


def _bars(title: str, values: dict[str, float | None], width: int = 520) -> str:
    """A horizontal bar chart of 0-1 values, as inline SVG."""
    row, left = 22, 150
    h = row * len(values) + 30
    parts = [
        f'<svg width="{width}" height="{h}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, v) in enumerate(values.items()):
        y = 24 + i * row
        w = 0 if v is None else max(0.0, min(1.0, v)) * (width - left - 50)
        parts.append(
            f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="14" fill="#4a7bd0"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}">{_fmt(v)}</text>'
        )
    return "".join(parts) + "</svg>"


def _histogram(title: str, counts: dict[str, int], width: int = 520) -> str:
    top = max(counts.values(), default=0) or 1
    bw = (width - 20) / max(len(counts), 1)
    parts = [
        f'<svg width="{width}" height="190" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, n) in enumerate(counts.items()):
        hgt = 130 * n / top
        x = 10 + i * bw
        parts.append(
            f'<rect x="{x:.1f}" y="{160 - hgt:.1f}" width="{bw - 4:.1f}" '
            f'height="{hgt:.1f}" fill="#7aa36c"/>'
            f'<text x="{x:.1f}" y="{155 - hgt:.1f}" font-size="11">{n}</text>'
            f'<text x="{x:.1f}" y="176" font-size="11">{html.escape(label)}</text>'
        )
    return "".join(parts) + "</svg>"


def html_report(report: dict[str, Any]) -> str:
    e = html.escape
    s, kinds, qs = report["summary"], report["by_kind"], report["questions"]
    rows = "".join(f"<tr><td>{e(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in _flat(s))
    tables = "".join(
        f"<h2>{e(title)}</h2><table>"
        + "".join(
            "<tr>"
            + "".join(f"<td>{e(cell.strip())}</td>" for cell in row.strip("|").split("|"))
            + "</tr>"
            for i, row in enumerate(_table(report[key]))
            if i != 1
        )
        + "</table>"
        for title, key in (("By split", "by_split"), ("By style", "by_style"))
        if report.get(key)
    )
    charts = [
        _bars(f"{g}.{k} by kind", {x: kinds[x][g][k] for x in kinds})
        for g, k in (
            ("retrieval", "recall_at_k"),
            ("answer", "key_fact_recall"),
            ("citation", "precision"),
            ("grounding", "supported_rate"),
        )
    ]
    totals = [q["timings"]["total_s"] for q in qs if q["timings"].get("total_s") is not None]
    edges = [0.5, 1, 2, 3, 4, 6, 10]
    lat: dict[str, int] = {}
    for lo, hi in zip([0.0, *edges], [*edges, float("inf")], strict=True):
        label = f"{lo:g}–{hi:g}s" if hi != float("inf") else f">{lo:g}s"
        lat[label] = sum(lo <= t < hi for t in totals)
    ranks: dict[str, int] = {str(i): 0 for i in range(1, report["meta"]["k"] + 1)}
    ranks["miss"] = 0
    for q in qs:
        if q["kind"] != "unanswerable":
            r = q["metrics"].get("first_relevant_rank")
            ranks["miss" if r is None else str(r)] += 1
    charts += [
        _histogram("total answer time (questions)", lat),
        _histogram("rank of the first relevant chunk", ranks),
    ]
    fail_items = []
    for q in qs:
        why = failures(q)
        if not why:
            continue
        cited = (
            "".join(
                f"<li>[{c['n']}] {e(c['section_path'])} (lines {c['start_line']}–"
                f"{c['end_line']})</li>"
                for c in q["citations"]
            )
            or "<li>nothing</li>"
        )
        ev = "".join(f"<li>“{e(x)}”</li>" for x in q["gold_evidence"]) or "<li>–</li>"
        fail_items.append(
            f"<details><summary><b>{e(q['id'])}</b> ({e(q['kind'])}) {e(q['question'])} — "
            f"<i>{e('; '.join(why))}</i></summary><p><b>Answer:</b> {e(q['answer'])}</p>"
            f"<p><b>Cited:</b></p><ul>{cited}</ul><p><b>Gold section:</b> "
            f"{e(q['gold_section'] or '–')}</p><p><b>Gold evidence:</b></p><ul>{ev}</ul>"
            "</details>"
        )
    meta = report["meta"]
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>tutor eval {e(meta["started"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td{{border:1px solid #ccc;padding:2px 8px}}
.charts{{display:flex;flex-wrap:wrap;gap:20px}}details{{margin:6px 0}}</style></head><body>
<h1>Eval report</h1><p>{e(meta["started"])} · model <code>{e(meta["model"])}</code> ·
k={meta["k"]} · commit <code>{e(str(meta["git_commit"]))}</code> ·
{s["n_questions"]} questions in {meta["wall_s"]:.0f} s</p>
<h2>Summary</h2><table>{rows}</table>{tables}
<h2>Charts</h2><div class="charts">{"".join(charts)}</div>
<h2>Failures ({len(fail_items)})</h2>{"".join(fail_items) or "<p>none</p>"}
</body></html>
"""


def write_reports(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    (out / "report.html").write_text(html_report(report), encoding="utf-8")


def load_report(path: Path) -> dict[str, Any]:
    """A report from a folder (its report.json, else report.json.gz) or a file. A kept
    baseline is stored gzipped (`evals/baseline/report.json.gz`): the full report of
    every gold question is several megabytes, too large for git."""
    p = path
    if path.is_dir():
        p = path / "report.json"
        if not p.exists() and (path / "report.json.gz").exists():
            p = path / "report.json.gz"
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        data: dict[str, Any] = json.loads(raw.decode("utf-8"))
        data["summary"], data["questions"]  # noqa: B018 - shape check
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise TutorError(f"{p} is not an eval report.json.") from None
    return data


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What got better and worse, metric by metric and question by question."""
    out = ["metric                                 old      new    change"]
    for (key, a), (_, b) in zip(_flat(old["summary"]), _flat(new["summary"]), strict=True):
        delta = "" if a is None or b is None else f"{b - a:+.3f}"
        if key.startswith("latency") and delta:
            delta += " (lower is better)"
        out.append(f"{key:<36} {_fmt(a):>7}  {_fmt(b):>7}  {delta}")
    olds = {q["id"]: q for q in old["questions"]}
    better, worse = [], []
    for q in new["questions"]:
        o = olds.get(q["id"])
        if o is None:
            continue
        fo, fn = set(failures(o)), set(failures(q))
        kf_o, kf_n = o["metrics"].get("key_fact_recall"), q["metrics"].get("key_fact_recall")
        if (fn < fo) or (kf_o is not None and kf_n is not None and kf_n > kf_o and fn <= fo):
            better.append(f"  + {q['id']}: {q['question']}  ({'; '.join(fo - fn) or 'key facts'})")
        elif (fo < fn) or (kf_o is not None and kf_n is not None and kf_n < kf_o and fo <= fn):
            worse.append(f"  - {q['id']}: {q['question']}  ({'; '.join(fn - fo) or 'key facts'})")
    out += ["", f"better ({len(better)}):", *better, "", f"worse ({len(worse)}):", *worse]
    return out
