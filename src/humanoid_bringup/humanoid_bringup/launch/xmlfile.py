"""A minimal XML element tree that remembers the file and line of every element (via expat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

from .errors import LaunchError


@dataclass
class Element:
    tag: str
    attrib: dict[str, str]
    file: str
    line: int
    children: list[Element] = field(default_factory=list)
    text: str = ''

    def error(self, message: str) -> LaunchError:
        return LaunchError(message, self.file, self.line)


def load_xml(path: str) -> Element:
    """Parses ``path``; a syntax error becomes a :class:`LaunchError` at its line."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        raise LaunchError(f'cannot read launch file: {exc.strerror}', path) from None
    parser = expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = Element(tag, dict(attrib), path, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise LaunchError(
            f'invalid XML: {expat.ErrorString(exc.code)}', path, exc.lineno
        ) from None
    return roots[0]
