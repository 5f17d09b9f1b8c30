"""``--seeds`` of the scenario benchmarks: ``1-5`` (a range) or ``1,3`` (a list) (helper)."""

from __future__ import annotations


def parse_seeds(text: str) -> list[int]:
    """The seeds ``text`` names: ``"1-5"`` is 1 to 5 inclusive, ``"1,3"`` is 1 and 3."""
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]
