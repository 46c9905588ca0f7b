"""HTML for the page: answers, passages, practice feedback and the progress chart.

Everything shown is escaped here before Gradio renders it, so a `<script>` in a question,
in the corpus or in an item is shown as text. Citation links are plain anchors
(`#cite-…`, `#sec-…`); the page's script (`JS`) turns a click on one into showing the
passage with that id, highlighted, in the passage panel. Chat answers and practice
feedback use the same anchors, so a practice citation behaves exactly as a chat one.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from tutor.answer import Answer, Citation, Sentence

if TYPE_CHECKING:
    from tutor.corpus import Section
    from tutor.quiz.mastery import Report, Stat
    from tutor.quiz.session import Graded

CSS = """
#passages { max-height: 72vh; overflow-y: auto !important; }
.passage { border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.passage.active { outline: 3px solid #e8a33d; }
.passage .path { font-weight: 600; font-size: 0.9em; }
.passage .body { white-space: pre-wrap; font-size: 0.9em; max-height: 22em; overflow-y: auto; }
.passage mark { background: #ffe58a; }
.turn-q { color: #555; font-style: italic; margin-top: 12px; }
table.compare { border-collapse: collapse; width: 100%; }
table.compare td, table.compare th {
  border: 1px solid #ccc; padding: 4px 8px; vertical-align: top;
}
.quiz-verdict.right { color: #1a7f37; font-weight: 600; }
.quiz-verdict.wrong { color: #cf222e; font-weight: 600; }
.bars .bar-row { display: flex; align-items: center; gap: 8px; margin: 2px 0; font-size: 0.9em; }
.bars .bar-label { width: 21em; flex: none; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.bars .bar-row.task .bar-label { padding-left: 1.2em; }
.bars .bar-track { flex: 1; background: #eee; border-radius: 3px; height: 0.9em; }
.bars .bar-fill { background: #3b82f6; height: 100%; border-radius: 3px; }
.bars .bar-row.task .bar-fill { background: #93c5fd; }
.bars .bar-value { width: 15em; flex: none; color: #555; }
"""

# Citation links are plain anchors (#cite-…); this delegated handler shows the target
# passage in the panel instead of letting the browser follow the link.
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="#cite-"], a[href^="#sec-"]');
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const el = document.getElementById(a.getAttribute('href').slice(1));
    if (!el) return;
    document.querySelectorAll('.passage.active').forEach((x) => x.classList.remove('active'));
    el.classList.add('active');
    // scroll the panel, not the page, so the chat stays where the student is reading
    const box = document.getElementById('passages');
    const target = el.querySelector('mark') || el;
    box.scrollIntoView({block: 'nearest'});
    box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - 60;
  }, true);
}
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def cite_link(turn: int, n: int) -> str:
    return f'<a href="#cite-{turn}-{n}" class="cite">[{n}]</a>'


def render_sentence(turn: int, s: Sentence) -> str:
    return _e(s.text) + " " + "".join(cite_link(turn, n) for n in s.citations)


def render_body(turn: int, shown: list[Sentence], sides: tuple[str, ...] = ()) -> str:
    """The answer's sentences: a two-column table pairing the sides of a comparison,
    otherwise the lead sentence and the supporting lines as a list."""
    notes = [s for s in shown if s.source == "note"]
    lines = [s for s in shown if s.source != "note"]
    note_html = "".join(f"<p><i>{_e(s.text)}</i></p>" for s in notes)
    if len(sides) == 2 and any(s.side is not None for s in lines):
        cols: list[list[str]] = [[], []]
        rest: list[str] = []
        for s in lines:
            (cols[s.side] if s.side in (0, 1) else rest).append(render_sentence(turn, s))
        rows = "".join(
            f"<tr><td>{a}</td><td>{b}</td></tr>"
            for a, b in zip(
                cols[0] + [""] * (len(cols[1]) - len(cols[0])),
                cols[1] + [""] * (len(cols[0]) - len(cols[1])),
                strict=True,
            )
        )
        table = (
            f'<table class="compare"><tr><th>{_e(sides[0])}</th><th>{_e(sides[1])}</th></tr>'
            f"{rows}</table>"
        )
        extra = "".join(f"<li>{r}</li>" for r in rest)
        return table + (f"<ul>{extra}</ul>" if extra else "") + note_html
    if not lines:
        return note_html
    lead = f"<p>{render_sentence(turn, lines[0])}</p>"
    more = "".join(f"<li>{render_sentence(turn, s)}</li>" for s in lines[1:])
    return lead + (f"<ul>{more}</ul>" if more else "") + note_html


def render_answer(turn: int, ans: Answer) -> str:
    """The final assistant message: verified sentences, sources, what was left out."""
    if ans.abstained:
        links = "".join(
            f'<li><a href="#sec-{turn}-{i}">{_e(p)}</a></li>'
            for i, p in enumerate(ans.nearest_sections)
        )
        return f"<p><b>The guide does not cover this.</b> ({_e(ans.abstain_reason)})</p>" + (
            f"<p>Nearest sections:</p><ul>{links}</ul>" if links else ""
        )
    shown = [s for s in ans.sentences if s.supported]
    body = render_body(turn, shown, ans.sides if ans.shape == "compare" else ())
    sources = "".join(
        f"<li>{cite_link(turn, c.n)} {_e(c.section_path)} (lines {c.start_line}–{c.end_line})</li>"
        for c in ans.citations
    )
    dropped = len(ans.sentences) - len(shown)
    note = (
        f"<p><small>{dropped} draft sentence(s) not shown: the cited passages do not "
        "support them, or they do not answer the question.</small></p>"
        if dropped
        else ""
    )
    return f"{body}<p>Sources:</p><ul>{sources}</ul>{note}"


def passage_html(turn: int, c: Citation, section_text: str | None) -> str:
    """The cited chunk highlighted inside its section's text, with the section path."""
    text = section_text or c.text
    at = text.find(c.text)
    if at < 0:
        body = f"<mark>{_e(c.text)}</mark>"
    else:
        body = _e(text[:at]) + f"<mark>{_e(c.text)}</mark>" + _e(text[at + len(c.text) :])
    return _passage_div(
        f"cite-{turn}-{c.n}",
        f"[{c.n}] {_e(c.section_path)}",
        f"{c.file} lines {c.start_line}–{c.end_line}",
        body,
    )


def _passage_div(anchor: str, path_html: str, where: str, body_html: str) -> str:
    return (
        f'<div class="passage" id="{anchor}"><div class="path">{path_html} '
        f"<small>({_e(where)})</small></div>"
        f'<div class="body">{body_html}</div></div>'
    )


def section_html(anchor: str, section: dict[str, Any]) -> str:
    return _passage_div(
        anchor,
        _e(section["path"]),
        f"lines {section['start_line']}–{section['end_line']}",
        _e(section["text"] or "(this heading has no text of its own)"),
    )


def lines_passage_html(
    anchor: str, section: Section | None, start: int, end: int, fallback: str, path: str
) -> str:
    """A section's text with lines `start`–`end` (1-based, in the guide) highlighted; the
    `fallback` line alone, highlighted, when the section is not found."""
    if section is None or not any(start <= ln.number <= end for ln in section.lines):
        return _passage_div(
            anchor, _e(path), f"lines {start}–{end}", f"<mark>{_e(fallback)}</mark>"
        )
    parts: list[str] = []
    for ln in section.lines:
        text = _e(ln.text)
        parts.append(f"<mark>{text}</mark>" if start <= ln.number <= end else text)
    return _passage_div(
        anchor, _e(section.path_str), f"{section.file} lines {start}–{end}", "\n".join(parts)
    )


def item_html(stem: str, where: str) -> str:
    return f'<p><small>{_e(where)}</small></p><p class="quiz-stem"><b>{_e(stem)}</b></p>'


def feedback_html(g: Graded, anchor: str) -> str:
    """Right or wrong, the key, the guide's line and a citation link into the panel."""
    item, c = g.item, g.item.citation
    key = item.options["ABCD".index(item.answer)]
    verdict = (
        '<p class="quiz-verdict right">✓ Right.</p>'
        if g.correct
        else f'<p class="quiz-verdict wrong">✗ Not quite: the answer is {_e(item.answer)}) '
        f"{_e(key.rstrip('.'))}.</p>"
    )
    return (
        f"{verdict}<p>The guide: <i>{_e(item.explanation)}</i></p>"
        f'<p>Reread: <a href="#{anchor}" class="cite quiz-cite">{_e(c.section_path)} '
        f"(lines {c.start_line}–{c.end_line})</a></p>"
    )


def progress_html(report: Report, domain_names: dict[int, str], weights: dict[int, float]) -> str:
    """A bar chart of mastery per domain, with its tasks below it, plus due and readiness."""
    rows: list[str] = []
    for d, s in report.domains.items():
        weight = f" · {weights[d]:.0%} of the exam" if d in weights else ""
        rows.append(_bar("domain", f"Domain {d}: {domain_names.get(d, '')}", s, weight))
        for t, ts in report.tasks.items():
            if t.startswith(f"{d}."):
                rows.append(_bar("task", f"Task {t}", ts))
    return (
        f'<div class="quiz-summary"><b>Readiness estimate: {report.readiness:.0%}</b> · '
        f"due now: <b>{report.due}</b> · profile <code>{_e(report.profile)}</code></div>"
        f'<div class="bars">{"".join(rows)}</div>'
    )


def _bar(kind: str, label: str, s: Stat, note: str = "") -> str:
    pct = round(100 * s.mastery)
    seen = f"{s.seen}/{s.items} seen" + (f", {s.due} due" if s.due else "") + note
    return (
        f'<div class="bar-row {kind}" title="{_e(label)}"><span class="bar-label">{_e(label)}'
        f'</span><span class="bar-track"><span class="bar-fill" style="width:{pct}%; '
        f'display:block"></span></span><span class="bar-value">{pct}% · {seen}</span></div>'
    )
