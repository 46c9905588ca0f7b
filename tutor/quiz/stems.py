"""Question templates: how a fact of the guide becomes a stem, and how its names show.

A stem is one of a few fixed templates over the guide's own sentence ("Which AWS service
<predicate>?", 'Which term does the guide describe as "<sentence>"?', "A data engineer
needs a service for ...", a cloze with ____), so no model writes or rewords anything.

Limits: the templates read stiffly where the guide's sentence is a fragment, and the
verb test (`Stems.verbs`, third-person verbs seen after "it/that/which") can miss a verb,
which then falls back to the "described as" template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from tutor.quiz.facts import Fact, aliases, names_clash

BLANK = "____"


def display(term: str) -> str:
    """A name as an option shows it: a descriptive aside dropped ("Amazon EBS (Block
    Storage)" -> "Amazon EBS"), an acronym kept ("AWS Database Migration Service (DMS)")."""
    out = re.sub(r"\s*\((?![A-Z][A-Za-z0-9]{1,7}\))[^)]*\)", "", term).strip()
    return out or term


@lru_cache(maxsize=4096)
def domain_task(path: tuple[str, ...]) -> tuple[int, str]:
    """(domain, task) from a section path: "Domain 2: ..." and "2.3 ..." headings; the
    guide's opening chapters (before Domain 1) are domain 0, the fundamentals."""
    domain, task = 0, ""
    for title in path:
        if m := re.match(r"^Domain\s+(\d)\b", title):
            domain = int(m.group(1))
        if m := re.match(r"^(\d)\.(\d)\s", title):
            task = f"{m.group(1)}.{m.group(2)}"
            domain = domain or int(m.group(1))
    return domain, task


def section_title(fact: Fact) -> str:
    return re.sub(r"^\s*(?:\d{1,2}[.:]\s*)+", "", fact.section.title).rstrip(":").strip()


def _lc(text: str) -> str:
    """First letter lower-cased, unless the word is a name ("SQL", "CloudWatch")."""
    w = text.split(" ", 1)[0]
    return text if w[1:2].isupper() or not w[:1].isupper() else text[:1].lower() + text[1:]


def _stop(text: str) -> str:
    return text.strip().rstrip(".;:").strip()


_PRONOUN = re.compile(
    r"^(?:It|This)(?:\s+(?P<noun>process|service|method|tool|feature|approach|technique))?"
    r"\s+(?P<rest>[a-z].*)$"
)
_AFTER_PARTICIPLE = frozenset("to for by in with as at on from".split())


class Stems:
    """Question templates over a fact's sentence. `verbs` are third-person verbs seen in
    the guide ("provides", "helps") so that "Provides persistent ..." reads as a verb."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.verbs: set[str] = set()
        for t in texts:
            found = re.findall(r"\b(?:it|that|which|also|this|service)\s+([a-z]+s)\b", t)
            self.verbs.update(found)

    def predicate(self, fact: Fact) -> tuple[str, str] | None:
        """(noun, predicate) such that "Which <noun> <predicate>?" asks for the term."""
        st = fact.statement
        if st.count("{}") != 1:
            return None
        if st.startswith("{} ") and st[3:4].islower():
            return "", _stop(st[3:])
        if not st.startswith("{}: "):
            return None
        body = _stop(st[4:])
        if m := _PRONOUN.match(body):
            return m.group("noun") or "", m.group("rest")
        words = body.split()
        first, nxt = words[0].lower(), (words[1].lower() if len(words) > 1 else "")
        if first in self.verbs and nxt != "of":
            return "", _lc(body)
        if first.endswith("ed") and nxt in _AFTER_PARTICIPLE:
            return "", f"is {_lc(body)}"
        return None

    def imperative(self, body: str) -> bool:
        w = body.split()[0].lower() if body.split() else ""
        return w.isalpha() and (w + "s" in self.verbs or w + "es" in self.verbs)

    def name_question(self, fact: Fact) -> tuple[str, str] | None:
        """(kind, stem) of an item whose options are names."""
        service = fact.category == "service"
        who = "AWS service" if service else "term"
        title = section_title(fact)
        where = (
            ""
            if service or any(names_clash(fact.term, w) for w in mentions(title, fact.term))
            else f"In “{title}”, "
        )
        which = "which" if where else "Which"
        st = fact.statement
        if fact.source == "clause":
            m = re.match(r"^(.*?,\s+)\{\} (.*)$", st)
            if m is None:
                return None
            return "scenario", f"{m.group(1)}which AWS service {_stop(m.group(2))}?"
        if fact.source == "solution":
            cloze = _stop(st.replace("{}", BLANK))
            return (
                "scenario",
                f"Scenario: {_stop(fact.context)}. Solution: {cloze}. "
                "Which AWS service fills the blank?",
            )
        if fact.source == "use":
            if m := re.match(r"^Use \{\} ((?:to|for) .*)$", st):
                return "scenario", f"Which AWS service should you use {_stop(m.group(1))}?"
            return (
                "scenario",
                f"Which AWS service completes the guide's advice: "
                f"“{_stop(st.replace('{}', BLANK))}”?",
            )
        if st.count("{}") != 1:
            return None
        body = _stop(st[4:]) if st.startswith("{}: ") else ""
        if service and re.match(r"^(?:For|To)\s", body):
            return (
                "scenario",
                f"A data engineer needs a service {_lc(body)}. Which AWS service fits?"
                if body.startswith("For")
                else f"A data engineer needs {_lc(body)}. Which AWS service fits?",
            )
        if service and self.imperative(body):
            if body.startswith("Use "):  # not "would you use to use ..."
                return "scenario", f"Which AWS service lets you {_lc(body)}?"
            return "scenario", f"Which AWS service would you use to {_lc(body)}?"
        pred = self.predicate(fact)
        if pred is not None:
            noun, text = pred
            return "term", f"{where}{which} {noun or who} {text}?"
        if body and not body.startswith("{}"):
            return "term", f"{where}{which} {who} does the guide describe as “{body}”?"
        return None


def description(fact: Fact) -> str | None:
    """What a fact says of its term, as an option of a "describe" item: "Data warehouse
    with columnar indexing." or "Grants access based on roles." (None: no such part)."""
    st = fact.statement
    if fact.source in ("use", "solution", "clause") or st.count("{}") != 1:
        return None
    if st.startswith("{}: ") and not _PRONOUN.match(st[4:]):
        return _stop(st[4:]) + "."
    if st.startswith("{} ") and st[3:4].islower():
        return st[3:4].upper() + _stop(st[4:]) + "."
    return None


def mentions(stem: str, key: str) -> list[str]:
    """Names of `key`'s aliases that the stem spells out (a stem must not give its key)."""
    low = stem.lower()
    return [a for a in aliases(key) if re.search(r"\b" + re.escape(a) + r"\b", low)]
