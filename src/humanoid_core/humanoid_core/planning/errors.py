"""Planner result codes (mirror of humanoid_interfaces/action/ExecuteTask.action) and errors."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """ExecuteTask result codes (contract: same names and values as the .action file)."""

    SUCCESS = 0
    INVALID_INSTRUCTION = 1
    UNKNOWN_OBJECT = 2
    AMBIGUOUS = 3
    PLANNING_FAILED = 4
    REJECTED = 5
    EXECUTION_FAILED = 6
    CANCELED = 7
    ESTOPPED = 8
    TIMEOUT = 9

    @classmethod
    def parse(cls, name: str | int | ErrorCode) -> ErrorCode:
        """From an enum, its value, or its name in any case ('unknown_object')."""
        if isinstance(name, ErrorCode):
            return name
        if isinstance(name, int):
            return cls(name)
        key = str(name).strip().upper().replace('-', '_').replace(' ', '_')
        try:
            return cls[key]
        except KeyError:
            valid = ', '.join(c.name.lower() for c in cls)
            raise ValueError(f'unknown error code {name!r}; valid codes: {valid}') from None


class PlanningError(Exception):
    """A planning failure with its result code; the message is meant for the operator."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigError(ValueError):
    """A configuration file (skills, suite) is malformed; the message names the field."""
