"""The one table the suite prints: each figure beside its ceiling and the reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Row:
    figure: str
    unit: str
    ours: float | None = None
    ceiling: float | None = None
    ceiling_name: str = ""
    reference: float | None = None
    target: str = ""
    check: Callable[["Row"], bool | None] | None = None
    lower_is_better: bool = False
    note: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def render(self) -> str:
        def num(v: float | None) -> str:
            if v is None:
                return "–"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"

        def ratio(a: float | None, b: float | None, lower: bool) -> str:
            if a is None or b is None or a == 0 or b == 0:
                return "–"
            return f"{(b / a if lower else a / b):.2f}×"

        head = ["figure", "unit", "ours", "ceiling", "ours/ceiling", "reference",
                "ours/ref", "target", "met"]
        lines = []
        for r in self.rows:
            met = "–"
            if r.check is not None:
                result = r.check(r)
                met = "–" if result is None else ("yes" if result else "NO")
            ceiling = num(r.ceiling) + (f" ({r.ceiling_name})" if r.ceiling_name else "")
            lines.append([r.figure, r.unit, num(r.ours), ceiling,
                          ratio(r.ours, r.ceiling, r.lower_is_better), num(r.reference),
                          ratio(r.ours, r.reference, r.lower_is_better), r.target, met])
        widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
                for line in lines]
        notes = [f"* {r.figure}: {r.note}" for r in self.rows if r.note]
        return "\n".join(self.meta + [""] + out + ([""] + notes if notes else []))


def ratio_at_least(limit: float, against: str) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        other = row.ceiling if against == "ceiling" else row.reference
        if row.ours is None or not other:
            return None
        return row.ours / other >= limit
    return check


def below(limit: float) -> Callable[[Row], bool | None]:
    return lambda row: None if row.ours is None else row.ours < limit


def both(a: bool | None, b: bool | None) -> bool | None:
    if a is None and b is None:
        return None
    return bool((a is None or a) and (b is None or b))
