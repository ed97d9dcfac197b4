"""What the doctor reports: one ``Finding`` per pitfall, and the ``Report`` that holds them."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Finding", "Level", "Report"]


class Level(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_ORDER = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One pitfall: ``code`` is stable (``IL101``...), ``where`` a ``service.method``, a
    service or a topic, ``source`` says what showed it (``"static"`` or ``"traces"``)."""

    code: str
    level: Level
    where: str
    message: str
    hint: str
    source: str

    def render(self) -> str:
        return f"{self.level.value.upper()} [{self.code}] ({self.where}) {self.message}\n    hint: {self.hint}"

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "level": self.level.value,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
            "source": self.source,
        }


class Report:
    """The findings of one run, sorted by level, then code, then where; duplicates dropped."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        unique = {(f.code, f.level, f.where, f.message): f for f in findings}
        self.findings: list[Finding] = sorted(
            unique.values(), key=lambda f: (_ORDER[f.level], f.code, f.where, f.message)
        )

    def count(self, level: Level) -> int:
        return sum(1 for f in self.findings if f.level is level)

    @property
    def exit_code(self) -> int:
        """1 when any finding is an error, else 0."""
        return 1 if self.count(Level.ERROR) else 0

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def render(self) -> str:
        lines = [f.render() for f in self.findings]
        lines.append(
            f"{self.count(Level.ERROR)} error(s), {self.count(Level.WARNING)} warning(s), "
            f"{self.count(Level.INFO)} info"
        )
        return "\n".join(lines)

    def to_json(self) -> str:
        summary = {level.value: self.count(level) for level in Level}
        body = {"findings": [f.to_dict() for f in self.findings], "summary": summary}
        return json.dumps(body, indent=2)
