"""Substitutions of the ROS 2 launch frontend: ``$(var ..)``, ``$(env ..)``, ``$(eval ..)``...

A template string is parsed into literal text and :class:`Substitution` parts (nested
substitutions allowed in arguments, arguments may be quoted with ``'`` or ``"``), then
evaluated against a :class:`SubstitutionContext`. ``$(eval EXPR)`` is evaluated by a small
whitelisting interpreter over Python's ``ast`` (literals, arithmetic, comparisons, boolean
logic, ``x if c else y``, ``math`` functions): never by ``eval``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math
import operator
import os
from typing import Any

from .errors import LaunchError

SUPPORTED = (
    'var',
    'env',
    'optenv',
    'find-pkg-share',
    'find-pkg-prefix',
    'eval',
    'dirname',
    'filename',
)


@dataclass(frozen=True)
class Substitution:
    """``$(name arg ...)``; each argument is a sequence of literal text and substitutions."""

    name: str
    args: tuple[tuple[str | Substitution, ...], ...]


Template = tuple[str | Substitution, ...]


@dataclass
class SubstitutionContext:
    """What substitutions read: launch configurations, environment, the current file."""

    configs: Mapping[str, str]
    environ: Mapping[str, str]
    file: str
    line: int | None = None

    def error(self, message: str) -> LaunchError:
        return LaunchError(message, self.file, self.line)


# ---------------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str, ctx_error: Callable[[str], LaunchError]) -> None:
        self.text = text
        self.pos = 0
        self.error = ctx_error

    def template(self) -> Template:
        parts: list[str | Substitution] = []
        buf: list[str] = []
        text = self.text
        while self.pos < len(text):
            if text.startswith('\\$(', self.pos):
                buf.append('$(')
                self.pos += 3
            elif text.startswith('$(', self.pos):
                if buf:
                    parts.append(''.join(buf))
                    buf = []
                self.pos += 2
                parts.append(self.substitution())
            else:
                buf.append(text[self.pos])
                self.pos += 1
        if buf:
            parts.append(''.join(buf))
        return tuple(parts)

    def substitution(self) -> Substitution:
        """Parses after ``$(`` up to and including the matching ``)``."""
        text = self.text
        start = self.pos
        while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in '-_'):
            self.pos += 1
        name = text[start : self.pos]
        if not name:
            raise self.error(f"expected a substitution name after '$(' in {text!r}")
        args: list[tuple[str | Substitution, ...]] = []
        while True:
            self._skip_space()
            if self.pos >= len(text):
                raise self.error(f"unterminated substitution '$({name}' in {text!r}")
            if text[self.pos] == ')':
                self.pos += 1
                return Substitution(name, tuple(args))
            if self.pos > start + len(name) and not text[self.pos - 1].isspace():
                raise self.error(f"expected a space or ')' in '$({name} ...)' in {text!r}")
            if self.pos == start + len(name):
                raise self.error(f"expected a space after '$({name}' in {text!r}")
            args.append(self.argument(name))

    def argument(self, name: str) -> tuple[str | Substitution, ...]:
        text = self.text
        parts: list[str | Substitution] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(''.join(buf))
                buf.clear()

        while self.pos < len(text) and not text[self.pos].isspace() and text[self.pos] != ')':
            ch = text[self.pos]
            if text.startswith('$(', self.pos):
                flush()
                self.pos += 2
                parts.append(self.substitution())
            elif ch in '\'"':
                quote = ch
                self.pos += 1
                while True:
                    if self.pos >= len(text):
                        raise self.error(
                            f'unterminated {quote} quote in an argument of $({name} ...) '
                            f'in {text!r}'
                        )
                    if text.startswith('\\' + quote, self.pos):
                        buf.append(quote)
                        self.pos += 2
                    elif text[self.pos] == quote:
                        self.pos += 1
                        break
                    elif text.startswith('$(', self.pos):
                        flush()
                        self.pos += 2
                        parts.append(self.substitution())
                    else:
                        buf.append(text[self.pos])
                        self.pos += 1
            else:
                buf.append(ch)
                self.pos += 1
        flush()
        return tuple(parts) if parts else ('',)

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1


def parse_template(text: str, error: Callable[[str], LaunchError] = LaunchError) -> Template:
    """Splits ``text`` into literal strings and :class:`Substitution` parts."""
    return _Parser(text, error).template()


# ------------------------------------------------------------------------------- evaluation


def substitute(text: str, ctx: SubstitutionContext) -> str:
    """Parses and evaluates every substitution in ``text``."""
    return evaluate(parse_template(text, ctx.error), ctx)


def evaluate(template: Template, ctx: SubstitutionContext) -> str:
    return ''.join(p if isinstance(p, str) else _evaluate_one(p, ctx) for p in template)


def _nargs(sub: Substitution, ctx: SubstitutionContext, low: int, high: int) -> None:
    n = len(sub.args)
    if not low <= n <= high:
        want = str(low) if low == high else f'{low} to {high}'
        raise ctx.error(f'$({sub.name} ...) takes {want} argument(s), got {n}')


def _evaluate_one(sub: Substitution, ctx: SubstitutionContext) -> str:
    args = [evaluate(a, ctx) for a in sub.args]
    name = sub.name
    if name == 'var':
        _nargs(sub, ctx, 1, 1)
        if args[0] not in ctx.configs:
            known = ', '.join(sorted(ctx.configs)) or '(none)'
            raise ctx.error(
                f"$(var {args[0]}): launch configuration '{args[0]}' is not set "
                f'(set here: {known})'
            )
        return ctx.configs[args[0]]
    if name in ('env', 'optenv'):
        _nargs(sub, ctx, 1, 2)
        if args[0] in ctx.environ:
            return ctx.environ[args[0]]
        if len(args) == 2:
            return args[1]
        if name == 'optenv':
            return ''
        raise ctx.error(
            f"$(env {args[0]}): environment variable '{args[0]}' is not set "
            f'(give a default: $(env {args[0]} DEFAULT))'
        )
    if name in ('find-pkg-share', 'find-pkg-prefix'):
        _nargs(sub, ctx, 1, 1)
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_prefix,
            get_package_share_directory,
        )

        try:
            if name == 'find-pkg-share':
                return get_package_share_directory(args[0])
            return get_package_prefix(args[0])
        except (PackageNotFoundError, LookupError, ValueError):
            prefixes = os.environ.get('AMENT_PREFIX_PATH', '(unset)')
            raise ctx.error(
                f"$({name} {args[0]}): package '{args[0]}' not found in the ament index "
                f'(AMENT_PREFIX_PATH={prefixes})'
            ) from None
    if name == 'eval':
        if len(sub.args) != 1:
            raise ctx.error(
                f'$(eval ...) takes 1 argument, got {len(sub.args)}: quote the expression, '
                "e.g. $(eval '$(var a) + 1')"
            )
        try:
            return str(safe_eval(args[0]))
        except EvalError as exc:
            raise ctx.error(f'$(eval {args[0]!r}): {exc}') from None
    if name == 'dirname':
        _nargs(sub, ctx, 0, 0)
        return os.path.dirname(ctx.file)
    if name == 'filename':
        _nargs(sub, ctx, 0, 0)
        return os.path.basename(ctx.file)
    raise ctx.error(
        f"unsupported substitution '$({name} ...)' (supported: {', '.join(SUPPORTED)})"
    )


def evaluate_condition(value: str) -> bool:
    """Truthiness of ``if``/``unless`` (as launch's ``evaluate_condition_expression``)."""
    low = value.strip().lower()
    if low in ('true', '1'):
        return True
    if low in ('false', '0'):
        return False
    raise ValueError(f"expected 'true', 'false', '1' or '0' (any case), got {value!r}")


# ------------------------------------------------------------------------------ safe eval


class EvalError(Exception):
    """An ``$(eval)`` expression is invalid or uses something outside the whitelist."""


_BINOPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[..., Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
    ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[..., Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: operator.contains(b, a),  #
    ast.NotIn: lambda a, b: not operator.contains(b, a),  #
}
_MATH_NAMES = [
    'pi',
    'e',
    'tau',
    'inf',
    'nan',
    'sqrt',
    'exp',
    'log',
    'log10',
    'log2',
    'sin',
    'cos',
    'tan',
    'asin',
    'acos',
    'atan',
    'atan2',
    'sinh',
    'cosh',
    'tanh',
    'degrees',
    'radians',
    'floor',
    'ceil',
    'fabs',
    'hypot',
    'isclose',
    'trunc',
    'copysign',
]
_FUNCTIONS: dict[str, object] = {
    'abs': abs,
    'min': min,
    'max': max,
    'round': round,
    'int': int,
    'float': float,
    'str': str,
    'bool': bool,
    'len': len,
    **{n: getattr(math, n) for n in _MATH_NAMES},
}
_MAX_LEN = 100_000  # longest string/sequence an expression may build
_MAX_POW = 10_000  # largest exponent


def safe_eval(expression: str) -> object:
    """Evaluates a simple Python expression with a whitelist of syntax and functions."""
    try:
        tree = ast.parse(expression.strip(), mode='eval')
    except SyntaxError as exc:
        raise EvalError(f'invalid expression ({exc.msg})') from None
    try:
        return _eval_node(tree.body)
    except EvalError:
        raise
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise EvalError(f'{type(exc).__name__}: {exc}') from None


def _eval_node(node: ast.AST) -> object:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | int | float | bool) or node.value is None:
            return node.value
        raise EvalError(f'unsupported literal {node.value!r}')
    if isinstance(node, ast.Name):
        if node.id in _FUNCTIONS and not callable(_FUNCTIONS[node.id]):
            return _FUNCTIONS[node.id]
        raise EvalError(f"unknown name '{node.id}'")
    if isinstance(node, ast.Attribute):
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == 'math'
            and node.attr in _MATH_NAMES
        ):
            return getattr(math, node.attr)
        raise EvalError(f"unsupported attribute '{ast.unparse(node)}'")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if (
            isinstance(node.op, ast.Pow)
            and isinstance(right, int | float)
            and abs(right) > _MAX_POW
        ):
            raise EvalError(f'exponent {right} too large')
        if isinstance(node.op, ast.Mult):
            for seq, n in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(n, int)
                    and len(seq) * n > _MAX_LEN
                ):
                    raise EvalError('result too long')
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval_node(node.operand))
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        value: object = None
        for operand in node.values:
            value = _eval_node(operand)
            if bool(value) != is_and:
                return value
        return value
    if isinstance(node, ast.Compare):
        left = _eval_node(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise EvalError(f'unsupported comparison {type(op).__name__}')
            right = _eval_node(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval_node(node.body) if _eval_node(node.test) else _eval_node(node.orelse)
    if isinstance(node, ast.Tuple | ast.List):
        items = [_eval_node(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            fn = _eval_node(func)
        elif isinstance(func, ast.Name) and func.id in _FUNCTIONS:
            fn = _FUNCTIONS[func.id]
        else:
            raise EvalError(f"unsupported function '{ast.unparse(func)}'")
        if node.keywords or not callable(fn):
            raise EvalError(f"unsupported call '{ast.unparse(node)}'")
        return fn(*[_eval_node(a) for a in node.args])
    raise EvalError(f"unsupported syntax '{ast.unparse(node)}' ({type(node).__name__})")
