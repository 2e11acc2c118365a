"""Declare node parameters once, with type, default, range and description; bad values fail
at startup with a message that names the parameter."""

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

# name, default, description, numeric bounds or allowed strings (or None)
ParamSpec = tuple[str, Any, str, tuple[float, float] | tuple[str, ...] | None]


class ParameterError(ValueError):
    """A parameter has a value of the wrong type, out of its range or not an allowed choice."""


def _type_of(default: Any) -> int:
    if isinstance(default, bool):
        return ParameterType.PARAMETER_BOOL
    if isinstance(default, int):
        return ParameterType.PARAMETER_INTEGER
    if isinstance(default, float):
        return ParameterType.PARAMETER_DOUBLE
    if isinstance(default, str):
        return ParameterType.PARAMETER_STRING
    if isinstance(default, list) and default and all(isinstance(v, float) for v in default):
        return ParameterType.PARAMETER_DOUBLE_ARRAY
    if isinstance(default, list) and all(isinstance(v, str) for v in default):
        return ParameterType.PARAMETER_STRING_ARRAY
    raise TypeError(f'unsupported parameter default {default!r}')


def declare_parameters(node: Node, spec: Sequence[ParamSpec]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, default, description, bounds in spec:
        ptype = _type_of(default)
        desc = ParameterDescriptor(name=name, type=ptype, description=description)
        numeric = bounds is not None and not isinstance(bounds[0], str)
        if numeric:
            lo, hi = bounds  # type: ignore[misc]
            if ptype == ParameterType.PARAMETER_INTEGER:
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
            else:
                desc.floating_point_range = [
                    FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
                ]
        elif bounds is not None:
            desc.description += f' (one of: {", ".join(bounds)})'  # type: ignore[arg-type]
        try:
            value = node.declare_parameter(name, default, desc).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(
                f'parameter {name!r}: {exc} (expected {type(default).__name__}; {description})'
            ) from None
        if numeric and not (bounds[0] <= value <= bounds[1]):  # type: ignore[operator,index]
            raise ParameterError(
                f'parameter {name!r} = {value!r} is outside [{bounds[0]}, {bounds[1]}]'  # type: ignore[index]
            )
        if bounds is not None and not numeric and value not in bounds:
            raise ParameterError(
                f'parameter {name!r} = {value!r} is not one of {list(bounds)}'  # type: ignore[arg-type]
            )
        arrays = (ParameterType.PARAMETER_DOUBLE_ARRAY, ParameterType.PARAMETER_STRING_ARRAY)
        values[name] = list(value) if ptype in arrays else value
    return values
