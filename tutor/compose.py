"""Lay out the shown answer by the question's shape, from scored guide sentences.

Input: the question (`question.Question`) and its candidate sentences, each with a
relevance probability (`relevance.Candidate`). Output: the guide lines to show, in order,
and what the guide does not state. Every line is a verbatim guide sentence (with its
bullet label when it continues a labelled line), so it is supported by its citation by
construction; model drafts join later, in `answer.py`, only when verified and relevant.

* **fact / definition**: the subject's defining line first (a line labelled with the
  subject, or that opens with it), then the most relevant supporting lines;
* **compare**: each side's own lines (lines whose label, parent bullet or words name
  that side), paired A, B, A, B, the guide's own side-by-side lines first; a side with
  no line is said to be not covered; lines left room for are the most relevant others;
* **a comparison asked in other words** (a fact or scenario question whose typer
  "compare" probability reaches `Calibration.contrast`): the guide's own comparison
  block leads, one line per side in turn (`guide_comparison`); without one, the best
  line for each described side ("one ... the other ...", `question.contrast_clauses`);
  then the relevant lines;
* **scenario** (exam stems): the best line that names a service first, then why;
* **multi**: the best lines for each part, in the order asked; a part with no line gets
  "The guide does not say: <part>".

Never shown: near-duplicates of a line already chosen (same content words, or embedding
cosine above `Calibration.duplicate_cos`), lead-ins that end in ":", lines under 4 words.
Limits: at most `Calibration.max_lines` lines (one more for a comparison); the layout is
by rules over the learned scores, not learned itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tutor.ground import COMPARISON, Lexicon, same_claim
from tutor.question import Question, generic_stems, subject_stems
from tutor.relevance import Calibration, Candidate, weighted_share
from tutor.text import content_stems

# what the guide does not give, by expected answer type (for partial answers)
NOT_GIVEN = {
    "num:size": "a size",
    "num:count": "a number",
    "num:period": "a duration",
    "num:frequency": "a frequency",
    "num:money": "a price",
    "num:date": "a date",
    "num:percent": "a percentage",
    "value:default": "the default",
    "value:version": "a version",
    "value:region": "the regions",
}


@dataclass
class Composition:
    lines: list[Candidate]
    not_covered: list[str] = field(default_factory=list)  # plain sentences, no citation
    sides: list[int] = field(default_factory=list)  # compare: the side of each line (0/1)


def _defining(c: Candidate, subject: frozenset[str], lexicon: Lexicon) -> bool:
    """A line that defines the subject: labelled with it, or opening with it."""
    label = subject_stems(c.unit.label, lexicon) if c.unit.label else frozenset()
    if label and label <= subject:
        return True
    head = subject_stems(" ".join(c.unit.text.split()[:4]), lexicon)
    return bool(head & subject) and c.features["subj_own"] >= 0.5


def _name(c: Candidate) -> str:
    """What a line names as its subject: its bullet label, or a table row's first cell."""
    return c.unit.label or _row_head(c.unit.text)


def _labelled_apart(a: Candidate, b: Candidate) -> bool:
    """Two lines under different labels (bullet labels or a table row's first cell)."""
    la, lb = _name(a).lower(), _name(b).lower()
    return bool(la and lb and la != lb)


def _says_less(c: Candidate, x: Candidate) -> bool:
    """Whether line `c` says nothing that line `x` does not: nearly all (90%) of its own
    content words, three or more, are in `x`'s text. Fixes "Log Retention: By default,
    CloudWatch Logs retains log data indefinitely." shown under "By default, logs in
    CloudWatch Logs are retained indefinitely, but you can configure retention
    policies ...", from another section and under another label."""
    own = c.unit.stems - generic_stems()
    return len(own) >= 3 and len(own & x.unit.stems) >= 0.9 * len(own)


def _side_share(c: Candidate, side: frozenset[str]) -> float:
    return len(side & c.unit.all_stems) / len(side) if side else 0.0


def _row_head(text: str) -> str:
    """A table row's first cell ("Amazon Kinesis Data Firehose" of "Amazon Kinesis Data
    Firehose | Near real-time analytics ... loading data streams ..."): what the row is
    about, as a bullet's label is. Empty for a line that is not a table row."""
    head, bar, _ = text.partition(" | ")
    return head if bar else ""


def _side_of(c: Candidate, sides: list[frozenset[str]], lexicon: Lexicon) -> int:
    """Which side of a comparison a line is about (0 or 1), or -1. Its label (a table
    row's first cell), else the bullet it is nested under, decides when it names one side
    only: "AWS Database Migration Service (DMS): Works with AWS SCT ..." is about DMS,
    though it names both; "Amazon EMR: ..." under "Batch Data Ingestion:" is on the side
    "batch" rather than "streaming ingestion" (more of that side's words, IDF-weighted);
    the Firehose row "... loading data streams ..." is on the side "Kinesis Data
    Firehose", not "Kinesis Data Streams". Otherwise the side more of whose words the
    line and its context name. A name decides by each side's own words (a word both
    sides share does not tell them apart: the row "Data design | ..." names "data", not
    "data lake" rather than "data warehouse"). When one side's words are all in the
    other's ("glue vs glue databrew"), a line naming the longer side is on it: every
    DataBrew line names Glue too, and had counted as naming both sides, so no DataBrew
    line was shown as its side (calibration compare key facts 0.805 -> 0.806; 5 of the
    split's 151 named comparisons have nested sides)."""
    own = [sides[0] - sides[1] or sides[0], sides[1] - sides[0] or sides[1]]
    # one side's words inside the other's ("glue" and "glue databrew"): a line naming
    # the longer side's own words is about it, not about both
    longer = 1 if sides[0] < sides[1] else 0 if sides[1] < sides[0] else -1
    for name in (_name(c), c.unit.parent):
        named = subject_stems(name, lexicon)
        hit = [weighted_share(side, named, lexicon) for side in own]
        if hit[0] != hit[1]:
            return 0 if hit[0] > hit[1] else 1
        if longer >= 0 and hit[0] > 0:
            return longer
    a, b = _side_share(c, sides[0]), _side_share(c, sides[1])
    if longer >= 0 and a > 0 and a == b:
        return longer
    return 0 if a > b else 1 if b > a else -1


def _by_side(block: list[Candidate]) -> dict[str, list[Candidate]]:
    """A comparison block's lines by side, each side's best first: a side is the line's
    label, or the bullet it is nested under ("OLTP (Online Transaction Processing)"). A
    line with neither names no side and is left out: each such line had counted as a side
    of its own, so the OLTP/OLAP block read as four sides, two of them the unlabelled
    lines "Large storage requirements ..." and "Suitable for predicting ...", at p 0.01."""
    out: dict[str, list[Candidate]] = {}
    for c in sorted(block, key=lambda c: -c.p):
        u = c.unit
        name = u.label if (not u.parent or COMPARISON.search(u.parent)) else u.parent
        if name:
            out.setdefault(name, []).append(c)
    return out


# labels under which the guide states a worked problem, and those of its answer
_PROBLEM = {"scenario", "example question", "problem", "question"}
_SOLUTION = {"solution", "answer"}


def _solution_of(c: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The first line of the guide's answer to a worked problem: for "Scenario: Need to
    store 30 TB ... complex joins ...", the "Solution: Amazon Redshift is ideal ..." line
    after it in the same passage (`cands` in guide order). None for other lines."""
    if c.unit.label.lower() not in _PROBLEM:
        return None
    after = False
    for x in cands:
        if x is c:
            after = True
        elif after and x.n == c.n:
            if x.unit.label.lower() in _PROBLEM:
                return None
            names = {x.unit.label.lower(), x.unit.parent.lower()}
            if names & _SOLUTION and not x.unit.text.rstrip().endswith(":"):
                return x
    return None


def _with_solutions(chosen: list[Candidate], cands: list[Candidate], most: int) -> list[Candidate]:
    """The chosen lines with each worked problem followed by its solution, at most `most`
    lines. Fixes "We will store 30 TB and run thousands of aggregate queries ... Which
    store fits?" being answered with the guide's restatement of the problem ("Scenario:
    Need to store 30 TB ...") and not its answer; a problem with no room for its solution
    gives its place to the solution."""
    groups = [[c, s] if (s := _solution_of(c, cands)) else [c] for c in chosen]
    out: list[Candidate] = []
    for group in groups:
        group = [x for x in group if all(x is not y for y in out)]
        if len(out) + len(group) > most:
            group = group[-1:]
        if group and len(out) + len(group) <= most:
            out.extend(group)
    return out


def comparison_blocks(pool: list[Candidate]) -> list[dict[str, list[Candidate]]]:
    """The passages' comparison blocks (lines under "X vs. Y" titles, "Comparison:" or
    "Choosing Between ...:" bullets), each by side. A block sets two to four sides against
    each other; one side is no comparison, and more are a catalogue (the table of
    services under "Comparing data storage methods")."""
    blocks: dict[tuple[int, str], list[Candidate]] = {}
    for c in pool:
        u = c.unit
        if u.in_comparison:
            where = u.parent if COMPARISON.search(u.parent) else u.title
            blocks.setdefault((c.n, where), []).append(c)
    return [b for b in map(_by_side, blocks.values()) if 2 <= len(b) <= 4]


def guide_comparison(
    pool: list[Candidate], most: int, bar: float = 0.0, next_bar: float = 0.0
) -> tuple[list[Candidate], list[int]]:
    """The guide's own side-by-side lines for a question that compares without naming
    both sides ("how do those two kinds of systems differ?"): of the passages' comparison
    blocks (`comparison_blocks`), the one holding the most relevant line, read one line
    per side in turn (each side's best first), at most `most` lines. A block whose best
    line is below `bar` is not about the question: "near real time vs real time?" was
    answered with the "SQL vs. Spark" block, the only block among its passages. Returns
    the lines and each one's side (its position among the block's sides). Limits: a
    comparison that the guide writes as two separate sections is not a block, nor is a
    table of more than four rows. A side's later lines must reach `next_bar` (a side's
    best line is shown under it, as in a named comparison): "checkout inserts vs month-long
    aggregations" read four lines of the OLTP/OLAP block at p 0.01-0.06 and left out the
    two lines at 0.47 and 0.37 that answer it."""
    split = [b for b in comparison_blocks(pool) if max(c.p for v in b.values() for c in v) >= bar]
    if not split:
        return [], []
    by_side = max(split, key=lambda b: max(c.p for side in b.values() for c in side))
    lines: list[Candidate] = []
    sides: list[int] = []
    for rank in range(max(len(v) for v in by_side.values())):
        for i, side in enumerate(by_side.values()):
            if rank < len(side) and len(lines) < most and (rank == 0 or side[rank].p >= next_bar):
                lines.append(side[rank])
                sides.append(i)
    return lines, sides


def line_limit(q: Question, cal: Calibration) -> int:
    """The most guide lines shown for `q`: `Calibration.max_lines`, one more for a
    comparison (two sides to answer: up to three lines a side). On the calibration split,
    key facts found in compare questions' answers 454 -> 465 of 598; a sixth line for
    every shape gave 469, most of it from comparisons. Model drafts only fill an answer
    up to `max_lines` (`answer.py`): the extra line is for the guide's own lines."""
    if q.shape == "compare" or q.contrast >= cal.contrast:
        return cal.max_lines + 1
    return cal.max_lines


def compose(
    q: Question,
    cands: list[Candidate],
    cal: Calibration,
    lexicon: Lexicon,
    similar: Callable[[Candidate, Candidate], float],
) -> Composition:
    """Choose and order the guide lines to show for `q`."""
    cal = replace(cal, max_lines=line_limit(q, cal))
    pool = sorted(
        (
            c
            for c in cands
            if len(c.unit.text.split()) >= 4 and not c.unit.text.rstrip().endswith(":")
        ),
        key=lambda c: -c.p,
    )
    chosen: list[Candidate] = []

    def fresh(c: Candidate) -> bool:
        # Lines of one passage are embedded with the same section title, which lifts
        # their cosine: within a passage only shared content words make a duplicate.
        # Lines under two different labels state two things, however alike their words:
        # "Real time: ... within milliseconds" is the answer beside "Near real-time: ...
        # within minutes", not a repeat of it.
        return all(
            c.unit.text != x.unit.text
            and not _says_less(c, x)
            and (_labelled_apart(c, x) or not same_claim(c.unit.text, x.unit.text, 0.6))
            and (c.n == x.n or similar(c, x) < cal.duplicate_cos)
            for x in chosen
        )

    def take(c: Candidate | None) -> bool:
        if c is not None and fresh(c) and len(chosen) < cal.max_lines:
            chosen.append(c)
            return True
        return False

    top = pool[0].p if pool else 0.0
    # a side's best line is shown at a quarter of the relevance bar: a comparison with
    # one side missing answers half the question
    side_bar = cal.show * 0.25
    shown = [c for c in pool if cal.shows(c.p, top)]
    comp = Composition(chosen)
    if q.shape == "compare" and len(q.sides) == 2:
        sides = [subject_stems(s, lexicon) for s in q.sides]

        def both(c: Candidate) -> bool:
            return _side_share(c, sides[0]) >= 0.5 and _side_share(c, sides[1]) >= 0.5

        def owned(c: Candidate) -> bool:
            # the line's label or parent bullet names one side ("Amazon EBS: ..."), so it
            # is about that side, not a passing mention in a list of services
            return any(
                weighted_share(side, subject_stems(name, lexicon), lexicon) >= 0.5
                for name in (_name(c), c.unit.parent)
                for side in sides
            )

        paired = {id(c) for b in comparison_blocks(pool) for v in b.values() for c in v}

        def side_key(c: Candidate) -> tuple[bool, bool, bool, float]:
            # The guide's own comparison first: a line from a passage whose path names
            # both sides. Fixes "EMR over Glue?" leading the Glue side with a Glue Studio
            # line from another section while the Glue-vs-EMR section was retrieved.
            # Then a line the guide sets side by side with another ("Comparison:" ...
            # "Step Functions: Best for serverless, event-driven workflows.") before the
            # side's other lines.
            path = subject_stems(c.path, lexicon)
            return (
                bool(sides[0] <= path and sides[1] <= path),
                id(c) in paired,
                owned(c),
                c.p,
            )

        # a line that sets the two sides against each other leads, when it is relevant and
        # comes from the guide's own comparison (a passage whose path names both sides):
        # elsewhere such a line is a passing mention ("Spark can be combined with EMR and
        # Glue ...") or a heading-like lead-in ("Batch vs. Streaming: Understand the ...")
        lead = [c for c in shown if both(c) and side_key(c)[0]]
        take(lead[0] if lead else None)
        if lead and chosen:
            comp.sides.append(-1)
        # the guide's own comparison block, when it is relevant but its sides are named
        # otherwise than the question names them ("the managed Airflow service or the
        # state-machine service?" against "MWAA: Ideal for complex, code-driven
        # workflows." / "Step Functions: Best for serverless, event-driven workflows."):
        # it leads, one line per side, as for a comparison asked in other words
        block, _ = guide_comparison(pool, 2, side_bar, cal.show)
        if (
            block
            and cal.shows(block[0].p, top)
            and len({_side_of(c, sides, lexicon) for c in block} - {-1}) < 2
        ):
            for c in block:
                if take(c):
                    comp.sides.append(-1)
        own = [
            sorted(
                (c for c in pool if _side_of(c, sides, lexicon) == i),
                key=side_key,
                reverse=True,
            )
            for i in (0, 1)
        ]
        per_side = max(1, (cal.max_lines - len(chosen)) // 2)
        picks: list[list[Candidate]] = [[], []]
        for i in (0, 1):
            # a side's best line is shown even under the bar (a comparison with one side
            # missing answers half the question); its next lines must pass the bar
            for c in own[i]:
                if len(picks[i]) >= per_side:
                    break
                from_comparison = side_key(c)[0]
                first_of_side = not picks[i] and c.p >= side_bar
                relevant_elsewhere = cal.shows(c.p, top) and not any(
                    side_key(x)[0] for x in picks[i]
                )
                if from_comparison or first_of_side or relevant_elsewhere:
                    picks[i].append(c)
        for a, b in zip(picks[0] + [None] * per_side, picks[1] + [None] * per_side, strict=False):
            if take(a):
                comp.sides.append(0)
            if take(b):
                comp.sides.append(1)
        # room left: the most relevant of the other lines, each on its side when it has
        # one. Fixes "predictive vs prescriptive analytics?" leaving out the best line of
        # all ("Prescriptive analytics: basically meant to recommend actions ...", p 0.88),
        # which names neither side in its own words, after two lines
        for c in shown:
            if take(c):
                comp.sides.append(_side_of(c, sides, lexicon))
        for i in (0, 1):
            # said only when no retrieved line names that side at all: a side whose lines
            # also name the other side is covered, just not on its own
            if not picks[i] and not any(_side_share(c, sides[i]) > 0 for c in pool):
                comp.not_covered.append(f"The guide does not describe {q.sides[i]} here.")
        return comp
    if q.shape == "multi" and q.parts:
        for i, part in enumerate(q.parts):
            # a line serves a part when it is closest to it and names its subject
            mine = [c for c in shown if c.part == i and c.features["subj_ctx"] >= 0.5][:2]
            # "not covered" only for a part with a subject of its own that no retrieved
            # line names (not for a fragment of a run-on question)
            named = set(content_stems(part)) - generic_stems()
            if not mine and named and not any(named & c.unit.all_stems for c in pool):
                comp.not_covered.append(f"The guide does not say: {part}")
            for c in mine:
                take(c)
        for c in shown:
            take(c)
        return comp
    if q.contrast >= cal.contrast:
        # a comparison in other words ("our checkout system ... while the analysts ...:
        # how do those two differ?"): the guide's own comparison answers it, side by side
        lines, _ = guide_comparison(pool, max(2, cal.max_lines - 1), side_bar, cal.show)
        for c in lines:
            take(c)
        if not lines and len(q.parts) == 2:
            # no such block: each described side's best line ("one service tells me who
            # called what API, the other gathers metrics"), so both sides are answered
            for i in (0, 1):
                mine = [c for c in pool if c.part == i and c.p >= side_bar]
                take(mine[0] if mine else None)
    if q.shape == "scenario":
        services = [c for c in shown if c.unit.stems & lexicon.entities or c.unit.label]
        take(services[0] if services else None)
    else:
        lead = [c for c in shown if _defining(c, q.subject, lexicon)]
        take(lead[0] if lead else None)
    for c in shown:
        take(c)
    chosen[:] = _with_solutions(chosen, cands, cal.max_lines)
    # said only when the typer is confident that a figure is asked (a wrong "the guide
    # does not give a duration" misleads more than a missing note)
    if q.quantity >= 0.8 and q.quantity_kind and not any(c.features["q_form"] for c in chosen):
        comp.not_covered.append(
            f"The guide does not give {NOT_GIVEN.get(q.quantity_kind, 'the figure')} for this."
        )
    return comp
