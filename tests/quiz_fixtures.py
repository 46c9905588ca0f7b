"""Hand-made items for the unit tests of scheduling and progress (no index needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from tutor.quiz.items import Item, ItemCitation

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TASKS = {1: 4, 2: 4, 3: 4, 4: 5}  # task statements per domain, as in DEA-C01


def make_item(n: int, domain: int, task: str, kind: str = "term") -> Item:
    options = ("True", "False") if kind == "truefalse" else (f"opt{n}a", "b", "c", "d")
    return Item(
        id=f"d{domain}-t{task or 'none'}-{n:03d}",
        kind=kind,
        stem=f"Which service does thing {n} of task {task}?",
        options=options,
        answer="A",
        explanation=f"**Service {n}**: does thing {n}.",
        citation=ItemCitation(f"Domain {domain} › {task} Title", 100 + n, 100 + n),
        domain=domain,
        task=task,
    )


def make_bank(per_task: int = 10) -> list[Item]:
    """`per_task` items for every task 1.1–4.5 (kinds rotating) and 6 fundamentals."""
    kinds = ("term", "describe", "truefalse", "scenario")
    items = [
        make_item(n, d, f"{d}.{t}", kinds[n % 4])
        for d, count in TASKS.items()
        for t in range(1, count + 1)
        for n in range(per_task)
    ]
    items += [make_item(n, 0, "") for n in range(6)]
    return items


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t
