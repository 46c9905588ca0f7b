"""Parse the guide (markdown-ish text extracted from a PDF) into a tree of sections.

The extraction is messy, and this module is where that mess stops:

* Heading levels are not trusted. Domains ("Domain 3: ...") and top-level `#` headings are
  parts; "1.2 Title" headings are task statements under the current part, whatever their
  `#` count. Below a task, a numbered heading "N. Title" continues the sibling numbered
  N-1 (so `### 3.`, `#### 4.` and `## 7.` under one task are siblings), unless the
  parent's own text holds an inline list item "N-1." (then it continues that list, as a
  child). Other headings nest by their `#` count but never escape their task.
* Bold markers are stripped from titles; a heading that runs on into a paragraph keeps
  its first clause as the title and gives the rest to the body.
* The opening table of contents (titles followed by a tab and a page number) is
  navigation: its lines are dropped so they can never win retrieval.
* Tables are tab-separated lines; HTML in cells is reduced to text, `<li>` items to
  "• " bullets, and cells joined with " | ".

Every section has a stable id (from its file and title path), a path a student
recognises, and its 1-based line range in the corpus file. Not handled: setext headings
(underlined with ===), and nested tables.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from tutor.errors import TutorError
from tutor.text import strip_markdown

SUFFIXES = (".md", ".txt")
PATH_SEP = " › "

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_DOMAIN = re.compile(r"^Domain\s+\d+\s*:", re.IGNORECASE)
_TASK = re.compile(r"^\d+\.\d+\s+\S")
_NUMBERED = re.compile(r"^(?:Step\s+)?(\d+)[.:]\s")
_LIST_ITEM = re.compile(r"^\s*(?:[-*]\s+)?(?:\*\*)?(\d+)\.\s")
_TOC_LINE = re.compile(r"^(?P<title>[^\t]+?)\s*\t\s*(?P<page>\d{1,3})\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_TABLE_SEP = re.compile(r"^[\s\t-]*$")


@dataclass
class Line:
    """One cleaned line of section text and where it came from (1-based)."""

    number: int
    text: str


@dataclass
class Section:
    """A heading and the text under it, up to the next heading of any level."""

    id: str
    title: str
    path: tuple[str, ...]
    file: str
    start_line: int
    end_line: int
    depth: int
    parent_id: str | None
    lines: list[Line] = field(default_factory=list)

    @property
    def path_str(self) -> str:
        return PATH_SEP.join(self.path)

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines).strip()


@dataclass
class _Node:
    section: Section
    md: int  # the heading's `#` count as written
    rank: int | None  # 1 = part, 2 = task, None = anything below a task
    number: int | None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "section"


def _section_id(file: str, path: tuple[str, ...], ordinal: int) -> str:
    digest = hashlib.sha1(f"{file}\x00{'/'.join(path)}\x00{ordinal}".encode()).hexdigest()
    return f"{_slug(path[-1])}-{digest[:6]}"


def clean_title(raw: str) -> tuple[str, str]:
    """(title, run-on text): bold stripped; a paragraph glued to the heading split off."""
    title = strip_markdown(raw).strip()
    rest = ""
    if len(title) > 90:
        m = re.match(r"^(.{3,90}?):\s+(.*)$", title) or re.match(r"^(.{3,120}?\.)\s+(.*)$", title)
        if m:
            title, rest = m.group(1), m.group(2)
    return title.rstrip(":").strip(), rest.strip()


def _cell_text(cell: str) -> str:
    cell = re.sub(r"(?i)<li[^>]*>\s*(?:•\s*)?", "\n• ", cell)
    cell = re.sub(r"(?i)<br\s*/?>|</p>|<p[^>]*>|</?ul[^>]*>|</?ol[^>]*>", "\n", cell)
    cell = html.unescape(re.sub(r"<[^>]+>", "", cell))
    parts = [re.sub(r"\s+", " ", p).strip() for p in cell.split("\n")]
    return "\n".join(p for p in parts if p and p != "•")


def clean_line(raw: str) -> str | None:
    """Cleaned text of one body line; None for lines that carry nothing (rules, separators)."""
    if _RULE.match(raw):
        return None
    if "\t" in raw:
        if _TABLE_SEP.match(raw):
            return None
        cells = [c for c in (_cell_text(c) for c in raw.split("\t")) if c]
        if not cells:
            return None
        joiner = "\n" if any("\n" in c for c in cells) else " | "
        return strip_markdown(joiner.join(cells))
    if "<" in raw and re.search(r"</?(?:p|li|ul|b|br)\b", raw, re.IGNORECASE):
        raw = _cell_text(raw)
    return strip_markdown(raw.rstrip())


def _decode(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise TutorError(
            f"{path} is not UTF-8 text (byte {e.start}): convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > fixed.md`, or remove it from the corpus."
        ) from None


def parse_lines(raw_lines: list[str], file: str) -> list[Section]:
    """Sections of one file, in document order. Text before the first heading is a
    section titled after the file."""
    titles = set()
    for raw in raw_lines:
        if m := _HEADING.match(raw):
            titles.add(clean_title(m.group(2))[0].lower())

    def is_toc(raw: str) -> bool:
        m = _TOC_LINE.match(raw)
        if m is None:
            return False
        return strip_markdown(m.group("title")).strip().rstrip(":").lower() in titles

    sections: list[Section] = []
    stack: list[_Node] = []
    seen: dict[tuple[str, ...], int] = {}
    root = Section(
        _section_id(file, (Path(file).stem,), 0),
        Path(file).stem,
        (Path(file).stem,),
        file,
        1,
        1,
        0,
        None,
    )
    current = root

    def place(md: int, title: str) -> tuple[int | None, int | None]:
        rank = 1 if (_DOMAIN.match(title) or md == 1) else 2 if _TASK.match(title) else None
        num_m = _NUMBERED.match(title) if rank is None else None
        number = int(num_m.group(1)) if num_m else None
        if rank is not None:
            while stack and (stack[-1].rank is None or stack[-1].rank >= rank):
                stack.pop()
            return rank, number
        if number is not None and number > 1:
            body_items = {
                int(m.group(1)) for ln in current.lines if (m := _LIST_ITEM.match(ln.text))
            }
            continues_list = (number - 1) in body_items
            if not continues_list:
                for i in range(len(stack) - 1, -1, -1):
                    node = stack[i]
                    if node.rank is not None:
                        break
                    if node.number == number - 1:
                        del stack[i:]
                        return rank, number
        while stack and stack[-1].rank is None and stack[-1].md >= md:
            stack.pop()
        return rank, number

    for no, raw in enumerate(raw_lines, start=1):
        m = _HEADING.match(raw)
        if m:
            title, rest = clean_title(m.group(2))
            if title:
                rank, number = place(len(m.group(1)), title)
                path = tuple(n.section.title for n in stack) + (title,)
                ordinal = seen.get(path, 0)
                seen[path] = ordinal + 1
                sec = Section(
                    id=_section_id(file, path, ordinal),
                    title=title,
                    path=path,
                    file=file,
                    start_line=no,
                    end_line=no,
                    depth=len(stack),
                    parent_id=stack[-1].section.id if stack else None,
                )
                if rest:
                    sec.lines.append(Line(no, rest))
                stack.append(_Node(sec, len(m.group(1)), rank, number))
                sections.append(sec)
                current = sec
                continue
        current.end_line = no
        if is_toc(raw):
            continue
        text = clean_line(raw)
        if text is None:
            continue
        if text or (current.lines and current.lines[-1].text):
            current.lines.append(Line(no, text))
    if root.text:
        sections.insert(0, root)
    for s in sections:
        while s.lines and not s.lines[-1].text:
            s.lines.pop()
    return sections


@dataclass
class CorpusFile:
    name: str
    sha256: str
    sections: list[Section]


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise TutorError(
            f"Corpus folder {corpus_dir} does not exist: create it and put the guide "
            "(a .md or .txt file) in it."
        )
    files = sorted(p for p in corpus_dir.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise TutorError(
            f"Corpus folder {corpus_dir} holds no .md or .txt file: copy the guide into it "
            "(e.g. `cp ../shared/guide/dea-c01-concise-guide.txt corpus/`)."
        )
    return files


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_corpus(corpus_dir: Path) -> list[CorpusFile]:
    """Parse every .md/.txt file of the folder; errors name the file and the fix."""
    out = []
    for path in corpus_files(corpus_dir):
        lines = _decode(path)
        sections = parse_lines(lines, path.name)
        if not any(s.text for s in sections):
            raise TutorError(f"{path} has no text to index: fill it or remove it.")
        out.append(CorpusFile(path.name, sha256_file(path), sections))
    return out
