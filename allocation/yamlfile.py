"""YAML files validated by pydantic, with errors that name the file, the line and the field.

PyYAML composes the document into nodes that keep their marks (line, column); the data is
constructed from those same nodes, and a map from each value's path (``("rules", 2, "action")``)
to its line lets a pydantic error's ``loc`` be said as ``strategy.yaml:14: rules[2].action: ...``.
A key given twice is refused (PyYAML would keep the last silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from allocation.errors import AllocationFileError

Model = TypeVar("Model", bound=BaseModel)
Path_ = tuple[str | int, ...]


def field_name(loc: Path_) -> str:
    """('rules', 2, 'action') -> 'rules[2].action'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the file)"


def distinct(names: list[str], what: str) -> None:
    """Refuse a name given twice in a list (pydantic validators call it): ``{what} 'x' is given twice``."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is given twice")
        seen.add(name)


def _lines(node: yaml.Node, path: Path_, found: dict[Path_, int], where: str) -> None:
    found[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = key.value
            if name in seen:
                raise AllocationFileError(
                    f"{where}:{key.start_mark.line + 1}: {field_name((*path, name))}: given twice "
                    f"(first on line {seen[name]})"
                )
            seen[name] = key.start_mark.line + 1
            _lines(value, (*path, name), found, where)
            found[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), found, where)


def read(text: str, where: str) -> tuple[Any, dict[Path_, int]]:
    """The data of a YAML document and the line of each of its values by path."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise AllocationFileError(f"{where}: the file is empty")
            lines: dict[Path_, int] = {}
            _lines(node, (), lines, where)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise AllocationFileError(f"{where}{line}: not YAML: {e.problem or e}") from None
    return data, lines


def line_of(loc: Path_, lines: dict[Path_, int]) -> int | None:
    """The line of the deepest part of ``loc`` that the file holds (a missing field: its parent)."""
    for k in range(len(loc), -1, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


def validated(model: type[Model], data: Any, lines: dict[Path_, int], where: str, context: dict | None = None) -> Model:
    """``data`` as ``model``; the first error as ``FILE:LINE: field: message`` (and how many more)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = errors[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
        line = line_of(loc, lines)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise AllocationFileError(f"{where}:{line or 1}: {field_name(loc)}: {message}{more}") from None


def load(model: type[Model], path: Path, context: dict | None = None) -> tuple[Model, str]:
    """The file at ``path`` validated as ``model``, and its text (for its hash)."""
    found, text, _ = load_with_lines(model, path, context)
    return found, text


def load_with_lines(model: type[Model], path: Path, context: dict | None = None) -> tuple[Model, str, dict[Path_, int]]:
    """``load``, and the line of each value by path (for checks made after validation)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AllocationFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise AllocationFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    data, lines = read(text, str(path))
    return validated(model, data, lines, str(path), context), text, lines
