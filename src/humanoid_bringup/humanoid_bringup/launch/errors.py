"""Errors of the XML launcher: every message names the file and line it comes from."""

from __future__ import annotations


class LaunchError(Exception):
    """A launch file (or its arguments) cannot be executed.

    ``str(error)`` is ``FILE:LINE: message`` when the location is known.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    @property
    def location(self) -> str:
        if self.file is None:
            return ''
        return f'{self.file}:{self.line}' if self.line is not None else self.file

    def __str__(self) -> str:
        return f'{self.location}: {self.message}' if self.file else self.message
