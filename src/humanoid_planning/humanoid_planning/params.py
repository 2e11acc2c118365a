"""Declaring node parameters once, with type, default, range and description.

``declare_parameters(node, spec)`` declares each parameter with a ParameterDescriptor
(type from the default, a numeric range when given, the description), reads the values and
checks them; a bad value raises :class:`ParameterError` naming the parameter, so the node
fails at startup with a clear message instead of misbehaving later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

ParamSpec = tuple[str, Any, str, tuple[float, float] | None]


class ParameterError(ValueError):
    """A parameter has a value of the wrong type or out of its range."""


def _type_of(default: Any) -> int:
    if isinstance(default, bool):
        return ParameterType.PARAMETER_BOOL
    if isinstance(default, int):
        return ParameterType.PARAMETER_INTEGER
    if isinstance(default, float):
        return ParameterType.PARAMETER_DOUBLE
    if isinstance(default, str):
        return ParameterType.PARAMETER_STRING
    if isinstance(default, list) and all(isinstance(v, str) for v in default):
        return ParameterType.PARAMETER_STRING_ARRAY
    raise TypeError(f'unsupported parameter default {default!r}')


def declare_parameters(node: Node, spec: Sequence[ParamSpec]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, default, description, bounds in spec:
        ptype = _type_of(default)
        desc = ParameterDescriptor(name=name, type=ptype, description=description)
        if bounds is not None:
            lo, hi = bounds
            if ptype == ParameterType.PARAMETER_INTEGER:
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
            else:
                desc.floating_point_range = [
                    FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
                ]
            desc.description += f' [{lo}, {hi}]'
        try:
            param = node.declare_parameter(name, default, desc)
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(
                f'parameter {name!r}: {exc} (expected {type(default).__name__}'
                + (f' in [{bounds[0]}, {bounds[1]}]' if bounds else '')
                + f'; {description})'
            ) from None
        value = param.value
        if bounds is not None and not (bounds[0] <= value <= bounds[1]):
            raise ParameterError(
                f'parameter {name!r} = {value!r} is outside [{bounds[0]}, {bounds[1]}] '
                f'({description})'
            )
        values[name] = value
    return values
