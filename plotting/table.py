"""A report's table, as terminal text and as markdown, and the cells every table shares."""
from __future__ import annotations

from dataclasses import dataclass

NA = "n/a"


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    left: tuple[int, ...] = (0,)  # left-aligned (text) columns; numbers align right

    def text(self) -> str:
        lines = [self.title]
        if self.rows:
            widths = [max(map(len, col)) for col in zip(self.header, *self.rows)]

            def line(cells):
                aligned = (c.ljust(w) if i in self.left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
                return "  ".join(aligned).rstrip()  # a left-aligned last column leaves no trailing spaces

            lines += [line(self.header), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(line, self.rows)]
        return "\n".join(lines + ([self.note] if self.note else []))

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            align = [":---" if i in self.left else "---:" for i in range(len(self.header))]
            lines += [_md_row(self.header), _md_row(align), *map(_md_row, self.rows), ""]
        return "\n".join(lines + ([self.note, ""] if self.note else []))


def _md_row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def fmt_pct(pct: float | None) -> str:
    return NA if pct is None else f"{pct:+.1f}%"
