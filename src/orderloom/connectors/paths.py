"""Path expressions: a small JSONPath-like language for reading payloads and writing documents.

`a.b[0].c` walks objects and arrays, `items[*].sku` collects from every item,
`attrs[?name=window_start].value` picks the first item whose field has that
value, `["x-key"]` reaches keys with dots or brackets, and a leading `$`
starts at the payload's root instead of the current item (inside an `each`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orderloom.core.errors import ConfigError

_NAME = re.compile(r"[^.\[\]]+")
_INDEX = re.compile(r"\[(-?\d+|\*|'[^']*'|\"[^\"]*\"|\?[^=\]]+=[^\]]*)\]")
WILD = "*"


class Missing:
    """The value at a path that leads nowhere (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = Missing()


@dataclass(frozen=True, slots=True)
class Match:
    """A filter step: the first list item whose `key` field reads `value` (compared as text)."""

    key: str
    value: str


Step = str | int | Match  # a key, an index, WILD or a filter


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path: where it starts and the steps from there."""

    text: str
    steps: tuple[Step, ...]
    from_root: bool

    @property
    def has_wildcard(self) -> bool:
        return WILD in self.steps


def parse_path(text: str) -> Path:
    """Parse `text`; ConfigError saying where the syntax breaks."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("a path must be non-empty text like order.lines[0].sku")
    s = text.strip()
    from_root = s.startswith("$")
    i = 1 if from_root else 0
    if from_root and s[i : i + 1] == ".":
        i += 1
    steps: list[Step] = []
    expect_name = not from_root or i > 1
    while i < len(s):
        if s[i] == "[":
            m = _INDEX.match(s, i)
            if m is None:
                raise ConfigError(
                    f"path {text!r}: an index at character {i + 1} must be [0], [-1], [*], [?field=value] or ['key']"
                )
            token = m.group(1)
            if token == WILD:
                steps.append(WILD)
            elif token[0] == "?":
                key, _, value = token[1:].partition("=")
                steps.append(Match(key.strip(), value.strip().strip("'\"")))
            elif token[0] in "'\"":
                steps.append(token[1:-1])
            else:
                steps.append(int(token))
            i = m.end()
            expect_name = False
            continue
        if s[i] == ".":
            if expect_name:
                raise ConfigError(f"path {text!r}: an empty name at character {i + 1}")
            i += 1
            expect_name = True
            continue
        m = _NAME.match(s, i)
        if m is None:  # pragma: no cover - _NAME matches any character but . [ ]
            raise ConfigError(f"path {text!r}: unexpected {s[i]!r} at character {i + 1}")
        if not expect_name and steps:
            raise ConfigError(f"path {text!r}: put a dot before {m.group(0)!r}")
        steps.append(m.group(0))
        i = m.end()
        expect_name = False
    if expect_name and steps:
        raise ConfigError(f"path {text!r} ends with a dot")
    return Path(text, tuple(steps), from_root)


def get(path: Path, item: Any, root: Any) -> Any:
    """The value at `path` (a list when it has [*]), or MISSING."""
    return _walk(root if path.from_root else item, path.steps)


def _walk(node: Any, steps: tuple[Step, ...]) -> Any:
    for n, step in enumerate(steps):
        if step == WILD:
            if not isinstance(node, list):
                return MISSING
            found = [_walk(x, steps[n + 1 :]) for x in node]
            return [x for x in found if x is not MISSING]
        if isinstance(step, Match):
            if not isinstance(node, list):
                return MISSING
            node = next((x for x in node if isinstance(x, dict) and _same(x.get(step.key), step.value)), MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return MISSING
            node = node[step]
    return node


def _same(found: Any, wanted: str) -> bool:
    if isinstance(found, bool):
        return wanted.lower() == str(found).lower()
    return found is not None and str(found) == wanted


def put(doc: dict[str, Any], path: Path, value: Any) -> None:
    """Set `value` at `path` inside `doc`, creating objects and arrays on the way."""
    if not is_plain_target(path):
        raise ConfigError(f"target {path.text!r} must be a plain path like data.weight_kg or lines[0].sku")
    node: Any = doc
    for step, nxt in zip(path.steps, path.steps[1:], strict=False):
        blank: Any = [] if isinstance(nxt, int) else {}
        node = _child(node, step, blank, path)
    _assign(node, path.steps[-1], value, path)


def is_plain_target(path: Path) -> bool:
    """Whether `path` can be written to: names and indexes only, starting with a name."""
    return (
        not path.from_root
        and bool(path.steps)
        and isinstance(path.steps[0], str)
        and all(isinstance(s, str | int) and s != WILD and not isinstance(s, Match) for s in path.steps)
    )


def _child(node: Any, step: Step, blank: Any, path: Path) -> Any:
    if isinstance(step, int):
        if not isinstance(node, list):
            raise ConfigError(f"target {path.text!r}: [{step}] used on something that is not a list")
        while len(node) <= step:
            node.append(None)
        if node[step] is None:
            node[step] = blank
        return node[step]
    if not isinstance(node, dict):
        raise ConfigError(f"target {path.text!r}: {step!r} used on something that is not an object")
    return node.setdefault(step, blank)


def _assign(node: Any, step: Step, value: Any, path: Path) -> None:
    if isinstance(step, int):
        if not isinstance(node, list) or step < 0:
            raise ConfigError(f"target {path.text!r}: [{step}] used on something that is not a list")
        while len(node) <= step:
            node.append(None)
        node[step] = value
    elif isinstance(node, dict):
        node[step] = value
    else:
        raise ConfigError(f"target {path.text!r}: {step!r} used on something that is not an object")
