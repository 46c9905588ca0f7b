"""Facts the quiz items are made of: the guide's own term → statement pairings.

A `Fact` is one sentence of the guide about one named thing, with the line range that
holds it. Found, in the raw markdown (the bold markers are the signal):

* labelled lines, `- **Amazon Redshift**: Data warehouse with columnar indexing.` (also
  `1. **X:** ...`, `- a. **X:** ...`, and unbolded `- Amazon X: ...` service lines); a
  generic sub-label (`**Definition:**`, `**Characteristics:**`) takes its term from the
  enclosing labelled line or heading;
* table rows of services, `<b>Amazon Neptune</b>\\tHigh availability, ... graph database`;
* bold-led sentences, `**Tokenisation** replaces sensitive data with ...`, sentences led
  by a service (`AWS KMS integrates with ...`) or by a condition and then a bold service
  (`If you need direct control ..., **AWS CloudHSM** provides ...`);
* a short heading with a single line under it, `### 3. Key Salting` + `- Salting ...`;
* advice that names a service, `Use CloudWatch to monitor pipeline health ...`, and the
  guide's `**Scenario:** ... **Solution:** ...` pairs whose solution names a service.

Each fact carries a `statement`: its sentence with the term replaced by `{}` (or prefixed
as `{}: ...`), so that putting any other name in the slot gives the claim a verifier can
check. Not handled: labels that name two things ("DynamoDB, Amazon RDS"), sub-labels that
need a line's parent to make sense to the sentence verifier ("Use Cases:"), code blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tutor.corpus import Section, _cell_text, clean_line, parse_lines
from tutor.text import sentences, strip_markdown

# `- a. **Label:** text`, `1. **Label**: text`, `**Label** (aside): text`
_BOLD_LABEL = re.compile(
    r"^(?P<indent>\s*)(?:[-*]\s+)?(?:(?:[a-z]|\d{1,2})\.\s+)?\*\*(?P<label>[^*]{2,90}?)\s*"
    r"(?::\*\*\s*|\*\*\s*(?P<aside>\([^)]{1,60}\))?\s*(?::|\s[-–]\s)\s*)(?P<text>.*)$"
)
_PLAIN_LABEL = re.compile(
    r"^(?P<indent>\s*)[-*]\s+(?P<label>(?:Amazon|AWS)\s[^:]{2,60}):\s+(?P<text>\S.*)$"
)
# "If you need ..., **AWS CloudHSM** provides ...": a condition, then the service
_CLAUSE = re.compile(
    r"^\s*(?:[-*]\s+)?(?P<pre>[A-Z][^*]{10,200}?,\s+)\*\*(?P<name>[^*]{2,50})\*\*\s+(?P<rest>[a-z].*)$"
)
_BOLD_LEAD = re.compile(r"^\s*(?:[-*]\s+)?\*\*(?P<term>[^*]{2,50})\*\*\s+(?P<text>[a-z].*)$")
_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$")
_ENUM = re.compile(r"^\s*(?:Step\s+)?(?:\d{1,2}|[a-z])[.:]\s*")
_SERVICE_NAME = re.compile(r"\b(?:Amazon|AWS) +([A-Z][A-Za-z0-9-]*(?: +[A-Z][A-Za-z0-9-]*){0,3})")
# Words the guide puts after "AWS" that are not names of a service
_NOT_NAMES = frozenset(
    {
        "authentication",
        "identity",
        "engines",
        "health",
        "support",
        "services",
        "service",
        "managed service",
        "managed services",
        "data engineering",
    }
)
# "AWS Glue helps you ...": a service as the subject of its sentence
_SUBJECT = re.compile(
    r"^(?P<name>(?:Amazon|AWS) [A-Z][\w-]*(?: [A-Z][\w-]*){0,3}) (?:is|are|can|also|[a-z]+s)\b"
)
# "Use X to ...": the service a piece of advice names
_USE = re.compile(
    r"^(?P<pre>Use\s+(?:an?\s+|the\s+)?)(?P<name>[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,4})\b"
)

# Sub-labels that say what kind of line follows, not what it is about.
DEFINING = frozenset({"definition", "characteristics"})
GENERIC = DEFINING | frozenset(
    w.strip()
    for w in """use cases|use case|purpose|key features|components|examples|example|
    scenario|solution|considerations|configuration|optimisation|aws service|aws services|
    integration|example workflow|approach|error handling|comparison|important to remember|
    example problem|example question|note|tasks|key services|log types|action|resource|
    principal|version|statement|effect|for further reading on data architecture|
    common failures|failure handling|definitions""".split("|")
)
_SKIP_LEADS = frozenset({"or", "and", "to", "with", "in", "for", "of", "the"})


@dataclass(frozen=True)
class Fact:
    """One statement of the guide about one named thing."""

    term: str  # "Amazon Redshift"
    category: str  # "service" or "term": options of one item share it
    text: str  # the sentence, as the guide words it (markdown stripped)
    statement: str  # the sentence with the term as a `{}` slot
    source: str  # "label", "table", "lead", "heading", "use", "solution"
    start_line: int
    end_line: int
    explanation: str  # the cited lines, verbatim (markdown stripped)
    section: Section
    group: str  # facts of one list or table share it: sibling distractors come from here
    context: str = ""  # the scenario of a "solution" fact


def shown_line(raw: str) -> str:
    """A corpus line as an explanation quotes it: markdown, bullet and heading marks
    dropped, the words verbatim."""
    text = clean_line(raw) or ""
    return re.sub(r"^\s*(?:#{1,6}\s+|[-*•]\s+)?", "", text).strip()


def canonical(name: str) -> str:
    """A name without markup, aside, or Amazon/AWS prefix, lower-cased: "redshift"."""
    name = re.sub(r"\([^)]*\)", " ", strip_markdown(name))
    name = re.sub(r"^\s*(?:amazon|aws)\s+", "", name.strip(), flags=re.I)
    return re.sub(r"\s+", " ", name).strip(" :.").lower()


def aliases(name: str) -> set[str]:
    """Canonical forms a name goes by: its own and an acronym in brackets ("MSK")."""
    out = {canonical(name)}
    out |= {canonical(a) for a in re.findall(r"\(((?:Amazon |AWS )?[A-Z][A-Za-z0-9]{1,8})\)", name)}
    return {a for a in out if a}


def names_clash(a: str, b: str) -> bool:
    """Two names that one answer could mean: equal, an alias, or one a word-prefix of the
    other ("Amazon EMR" and "Amazon EMR with Spark")."""
    for x in aliases(a):
        for y in aliases(b):
            if x == y or x.startswith(y + " ") or y.startswith(x + " "):
                return True
    return False


def service_names(lines: list[str]) -> set[str]:
    """Canonical names the guide writes with an Amazon/AWS prefix in its text ("glue",
    "glue databrew", "step functions"). A shorter run of words counts only where the
    guide uses it as a whole name: "AWS Key Management Service" does not make "Key" one,
    "AWS Glue is ..." makes "Glue" one. Headings are left out ("AWS Services for ...")."""
    text = strip_markdown("\n".join(ln for ln in lines if not _HEADING.match(ln)))
    found: set[str] = set()
    for m in _SERVICE_NAME.finditer(text):
        found.add(m.group(1).lower())
    return found - _NOT_NAMES


def is_service(name: str, known: set[str]) -> bool:
    """Whether a label names an AWS service (or a feature named after one): it carries
    the Amazon/AWS prefix, or starts with a name the guide writes with it elsewhere."""
    can = canonical(name)
    if re.match(r"^(?:services?\b|managed services|support\b)", can):
        return False  # "AWS Services for Event Collection", "AWS Managed Services"
    if re.match(r"^\s*(?:Amazon|AWS)\s", strip_markdown(name)):
        return True
    return can in known


def _first_sentence(text: str) -> str:
    parts = sentences(strip_markdown(text))
    return parts[0].strip() if parts else ""


def _clean_label(label: str) -> str:
    return _ENUM.sub("", strip_markdown(label)).strip().rstrip(":").strip()


def _usable(label: str) -> bool:
    """A label that names one thing (not "DynamoDB, Amazon RDS" or "Glue and EMR")."""
    low = label.lower()
    if " for " in low and not re.match(r"^(?:amazon|aws)\s", low):
        return False  # "Lambda for Automation" is a topic, not a name
    return (
        2 <= len(label) <= 60
        and len(label.split()) <= 7
        and not re.search(r",|\band\b|\bor\b|/|\bvs\b", low)
        and low not in GENERIC
        and not low.endswith("?")
    )


def _statement(term: str, text: str) -> str:
    """The sentence with the term as the `{}` slot: "{} is a serverless ..." when the
    sentence starts with the term, else "{}: <sentence>"; later mentions become `{}` too."""
    slot = "{}"
    m = re.match(re.escape(term) + r"(?!\w)", text, flags=re.I)
    body = text[m.end() :] if m else text
    body = re.sub(r"\b" + re.escape(term) + r"(?!\w)", slot, body, flags=re.I)
    return f"{slot}{body}" if m else f"{slot}: {body}"


class _Reader:
    """Walks one file's raw lines and collects its facts."""

    def __init__(self, raw: list[str], file: str, known: set[str]) -> None:
        self.raw = raw
        self.known = known
        self.sections = parse_lines(raw, file)
        self.section_at: dict[int, Section] = {}
        for s in self.sections:
            for n in range(s.start_line, s.end_line + 1):
                self.section_at.setdefault(n, s)
        self.facts: list[Fact] = []

    def cleaned(self, no: int) -> str:
        return shown_line(self.raw[no - 1])

    def add(
        self,
        term: str,
        text: str,
        source: str,
        start: int,
        end: int,
        group: str,
        statement: str | None = None,
        context: str = "",
    ) -> None:
        text = re.sub(r":\s*$", ".", text.strip())
        if len(text.split()) < 3 or text.endswith("?") or not _usable(term):
            return
        section = self.section_at[start]
        lines = [self.cleaned(n) for n in range(start, end + 1)]
        self.facts.append(
            Fact(
                term=term,
                category="service" if is_service(term, self.known) else "term",
                text=text,
                statement=statement or _statement(term, text),
                source=source,
                start_line=start,
                end_line=end,
                explanation="\n".join(ln for ln in lines if ln),
                section=section,
                group=group,
                context=context,
            )
        )

    def read(self) -> list[Fact]:
        parents: list[tuple[int, str]] = []  # (indent, label) of enclosing labelled lines
        scenario: tuple[int, str] | None = None
        in_code = False
        block = 0  # a new list or table starts after a blank line run or a heading
        for no, raw in enumerate(self.raw, start=1):
            if raw.strip().startswith("```"):
                in_code = not in_code
                continue
            if in_code or no not in self.section_at:
                continue
            section = self.section_at[no]
            if _HEADING.match(raw):
                parents, scenario, block = [], None, block + 1
                self._heading_fact(no, section)
                continue
            group = f"{section.id}/{block}"
            if "\t" in raw:
                self._table_row(raw, no, f"{section.id}/table")
                continue
            m = _BOLD_LABEL.match(raw) or _PLAIN_LABEL.match(raw)
            if m is None:
                if lead := _BOLD_LEAD.match(raw):
                    first = lead.group("text").split()[0]
                    if first not in _SKIP_LEADS:
                        term = _clean_label(lead.group("term"))
                        text = _first_sentence(f"{term} {lead.group('text')}")
                        self.add(term, text, "lead", no, no, group)
                elif clause := _CLAUSE.match(raw):
                    name = _clean_label(clause.group("name"))
                    if is_service(name, self.known):
                        sent = _first_sentence(
                            f"{clause.group('pre')}{name} {clause.group('rest')}"
                        )
                        statement = re.sub(re.escape(name) + r"(?!\w)", "{}", sent, count=1)
                        self.add(name, sent, "clause", no, no, group, statement)
                else:
                    self._subject_facts(self.cleaned(no), no, group)
                self._use_fact(self.cleaned(no), no, group)
                continue
            indent = len(m.group("indent").expandtabs(4))
            label = _clean_label(m.group("label"))
            text = strip_markdown(m.group("text")).strip()
            while parents and parents[-1][0] >= indent:
                parents.pop()
            low = label.lower()
            if low == "scenario":
                scenario = (no, text)
            elif low == "solution" and scenario and text:
                self._solution_fact(scenario, text, no, group)
            elif low in DEFINING and text:
                term = parents[-1][1] if parents else _clean_label(section.title)
                self.add(term, _first_sentence(text), "label", no, no, group)
            elif text and low not in GENERIC:
                self.add(label, _first_sentence(text), "label", no, no, group)
            if text:
                self._use_fact(text, no, group)
            parents.append((indent, label))
        return self.facts

    def _table_row(self, raw: str, no: int, group: str) -> None:
        cells = [c for c in (_cell_text(c) for c in raw.split("\t")) if c]
        if len(cells) == 2 and re.match(r"^(?:Amazon|AWS)\s", cells[0]) and "\n" not in cells[1]:
            self.add(_clean_label(cells[0]), _first_sentence(cells[1]), "table", no, no, group)

    def _heading_fact(self, no: int, section: Section) -> None:
        """`### 3. Key Salting` over one line of text: that line defines the heading."""
        if section.start_line != no or len(section.title.split()) > 5:
            return
        body = [ln for ln in section.lines if ln.text.strip()]
        if len(body) != 1:
            return
        line = self.raw[body[0].number - 1]
        if _BOLD_LABEL.match(line) or not re.match(r"^\s*[-*]\s", line):
            return  # a definition is the one bullet under the heading, not a paragraph
        term = _clean_label(section.title)
        text = _first_sentence(re.sub(r"^\s*[-*•]\s+", "", body[0].text))
        self.add(term, text, "heading", no, body[0].number, f"{section.parent_id}/headings")

    def _subject_facts(self, text: str, no: int, group: str) -> None:
        """ "AWS KMS integrates with AWS CloudTrail to ...": a sentence whose subject is a
        service, followed by its verb."""
        for sent in sentences(text):
            m = _SUBJECT.match(sent)
            if m and not sent.rstrip().endswith(":"):
                self.add(m.group("name"), sent, "lead", no, no, group)

    def _use_fact(self, text: str, no: int, group: str) -> None:
        """ "Use CloudWatch to monitor ..." names the service for a job."""
        for sent in sentences(text):
            m = _USE.match(sent)
            rest = sent[m.end("name") :] if m else ""
            if re.match(r"^\s*(?:,|and\b|\()", rest):
                continue  # "Use Amazon RDS, Aurora, and Redshift": no single answer
            if m and is_service(m.group("name"), self.known) and len(sent.split()) >= 6:
                name = m.group("name")
                statement = sent[: m.start("name")] + "{}" + sent[m.end("name") :]
                self.add(name, sent, "use", no, no, group, statement=statement)

    def _solution_fact(self, scenario: tuple[int, str], text: str, no: int, group: str) -> None:
        """A solution that names a service: the service is the answer to the scenario."""
        sent = _first_sentence(text)
        m = _SERVICE_NAME.search(sent)
        if m is None:
            return
        name = m.group(0)
        statement = sent[: m.start()] + "{}" + sent[m.end() :]
        self.add(name, sent, "solution", scenario[0], no, group, statement, context=scenario[1])


def read_facts(corpus_files: list[Path]) -> list[Fact]:
    """Every fact of the corpus files, in document order."""
    out: list[Fact] = []
    for path in corpus_files:
        raw = path.read_text(encoding="utf-8").splitlines()
        out.extend(_Reader(raw, path.name, service_names(raw)).read())
    return out
