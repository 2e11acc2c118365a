"""XML launch file -> a resolved list of :class:`NodeSpec` (what to start, with which args).

Executes the documented subset of the ROS 2 XML launch format with ``ros2 launch``'s
semantics (launch / launch_ros):

- ``<arg name default description choices>`` declares an argument: a value given on the
  command line or by an including file wins, else the default; no default and no value is an
  error. ``<let name value>`` sets a launch configuration.
- ``<include file>`` with ``<arg name value>`` children: the values are set as launch
  configurations in the *current* scope (they stay visible after the include, as in
  ``ros2 launch``; wrap the include in a ``<group>`` to scope them). An included file's
  arguments without a default must be passed explicitly.
- ``<group scoped forwarding>``: a scoped group (default) restores launch configurations,
  the environment and the pushed ROS namespace afterwards; ``forwarding="false"`` starts
  from no configurations except its ``<keep name value>`` children.
- ``<push_ros_namespace namespace>`` (or ``push-ros-namespace``): prefixes the namespace of
  the nodes after it, up to the end of the enclosing scoped group.
- ``<set_env name value>`` / ``<unset_env name>``: the environment of later nodes.
- ``<node pkg exec name namespace args ros_args output launch-prefix>`` with ``<param>``,
  ``<remap>``, ``<env>`` children; ``launch-prefix`` (e.g. ``nice -n 10``) is split like a
  shell line and put before the executable, as ``ros2 launch`` does.
- ``if``/``unless`` on every action.

Anything else (tag or attribute) is a :class:`LaunchError` naming it and its FILE:LINE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import os
import re
import shlex
from typing import Any

import yaml

from .errors import LaunchError
from .substitutions import SubstitutionContext, evaluate_condition, substitute
from .xmlfile import Element, load_xml

CONDITION_ATTRS = ('if', 'unless')
ACTION_ATTRS: dict[str, tuple[str, ...]] = {
    'arg': ('name', 'default', 'description', 'choices'),
    'let': ('name', 'value'),
    'include': ('file',),
    'group': ('scoped', 'forwarding'),
    'node': ('pkg', 'exec', 'name', 'namespace', 'args', 'ros_args', 'output', 'launch-prefix'),
    'set_env': ('name', 'value'),
    'unset_env': ('name',),
    'push_ros_namespace': ('namespace',),
    'push-ros-namespace': ('namespace',),
}
OUTPUT_VALUES = ('screen', 'log', 'both')
_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_MAX_INCLUDE_DEPTH = 32

ParamValue = Any  # bool | int | float | str | list of one of them | nested dict


@dataclass
class ArgDecl:
    """A declared launch argument."""

    name: str
    default: str | None
    description: str
    choices: list[str] | None
    source: str  # FILE:LINE
    conditional: bool = False

    def describe(self) -> str:
        text = self.name
        if self.default is not None:
            text += f" (default '{self.default}')"
        else:
            text += ' (required)'
        if self.choices:
            text += f' [{"|".join(self.choices)}]'
        if self.description:
            text += f': {self.description}'
        return text


@dataclass
class NodeSpec:
    """One node to start, fully resolved."""

    package: str
    executable: str
    path: str  # the executable file (ament index: PREFIX/lib/PKG/EXEC)
    name: str | None
    namespace: str | None  # absolute, normalized; None = not given and none pushed
    arguments: list[str] = field(default_factory=list)
    ros_arguments: list[str] = field(default_factory=list)
    prefix: list[str] = field(default_factory=list)  # launch-prefix, before the executable
    # in command-line order: parameter files (str) and inline parameters (dict)
    parameters: list[str | dict[str, ParamValue]] = field(default_factory=list)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    node_env: dict[str, str] = field(default_factory=dict)  # the node's <env> children
    env: dict[str, str] = field(default_factory=dict)  # the full environment of the process
    output: str = 'screen'
    source: str = ''  # FILE:LINE of the <node> element
    label: str = ''  # unique name used to prefix output lines

    @property
    def full_name(self) -> str | None:
        """``/ns/name`` when both the name and a namespace are known (the params-file key)."""
        if self.name is None or self.namespace is None:
            return None
        return self.namespace.rstrip('/') + '/' + self.name

    def params_file_key(self) -> str:
        return self.full_name or '/**'

    def inline_params_yaml(self, params: Mapping[str, ParamValue]) -> str:
        """The temporary parameters file ``ros2 launch`` writes for inline ``<param>``s."""
        return yaml.safe_dump(
            {self.params_file_key(): {'ros__parameters': dict(params)}}, default_flow_style=False
        )

    def command(self, params_dir: str) -> list[str]:
        """The argv, built like launch_ros' ``Node``; inline parameters are written as YAML
        files into ``params_dir``."""
        cmd = [*self.prefix, self.path, *self.arguments]
        if self.ros_arguments:
            cmd += ['--ros-args', *self.ros_arguments]
        cmd.append('--ros-args')
        if self.name is not None:
            cmd += ['-r', f'__node:={self.name}']
        if self.namespace is not None:
            cmd += ['-r', f'__ns:={self.namespace}']
        for i, params in enumerate(self.parameters):
            if isinstance(params, str):
                cmd += ['--params-file', params]
            else:
                path = os.path.join(params_dir, f'launch_params_{self.label}_{i}.yaml')
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(self.inline_params_yaml(params))
                cmd += ['--params-file', path]
        for src, dst in self.remappings:
            cmd += ['-r', f'{src}:={dst}']
        return cmd


@dataclass
class LaunchPlan:
    """The result of executing a launch file's actions: the nodes to start."""

    file: str
    nodes: list[NodeSpec]
    arguments: list[ArgDecl]  # declared by the top-level file
    configurations: dict[str, str]  # the launch configurations at the end
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Scope:
    configs: dict[str, str]
    environ: dict[str, str]
    namespace: str | None

    def copy(self) -> _Scope:
        return _Scope(dict(self.configs), dict(self.environ), self.namespace)


# ------------------------------------------------------------------------------- helpers


def parse_cli_arguments(argv: list[str]) -> dict[str, str]:
    """``['a:=1', 'b:=x']`` -> ``{'a': '1', 'b': 'x'}``."""
    result: dict[str, str] = {}
    for item in argv:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise LaunchError(f"launch argument {item!r} is not of the form 'name:=value'")
        result[name] = value
    return result


def normalize_namespace(ns: str) -> str:
    """Absolute, single slashes, no trailing slash (``'a//b/'`` -> ``'/a/b'``)."""
    tokens = [t for t in ns.split('/') if t]
    return '/' + '/'.join(tokens)


def prefix_namespace(base: str | None, ns: str | None) -> str | None:
    """launch_ros' rule: an absolute ``ns`` ignores ``base``; a relative one is appended."""
    if ns is None:
        return base
    if base is None or ns.startswith('/'):
        return ns
    return base.rstrip('/') + '/' + ns


def _validate_namespace(ns: str) -> str | None:
    for token in ns.strip('/').split('/'):
        if token and not _NAME_RE.match(token):
            return (
                f"invalid namespace {ns!r}: token {token!r} must be letters, digits and '_' "
                'and not start with a digit'
            )
    return None


def type_param_value(text: str) -> ParamValue:
    """A parameter value as launch_ros types it: YAML scalar or a uniform YAML list."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and value:
        return _uniform_list(value, text)
    return text


def _uniform_list(items: list[Any], text: str) -> list[Any]:
    kinds = {type(v) for v in items}
    if kinds <= {int, float} and float in kinds:
        return [float(v) for v in items]
    if len(kinds) == 1 and kinds.pop() in (bool, int, float, str):
        return items
    raise ValueError(
        f'a list parameter needs items of one type (bool, int, float or str): {text!r}'
    )


def _check_attrs(el: Element, allowed: tuple[str, ...]) -> None:
    for attr in el.attrib:
        if attr not in allowed:
            listed = ', '.join(allowed) or '(none)'
            raise el.error(f"unknown attribute '{attr}' on <{el.tag}> (allowed: {listed})")


def _required(el: Element, attr: str) -> str:
    if attr not in el.attrib:
        raise el.error(f"<{el.tag}> needs the attribute '{attr}'")
    return el.attrib[attr]


def _no_children(el: Element) -> None:
    if el.children:
        raise el.children[0].error(f'<{el.children[0].tag}> is not allowed inside <{el.tag}>')
    if el.text.strip():
        raise el.error(f'<{el.tag}> must not contain text ({el.text.strip()[:40]!r})')


def declared_arguments(path: str) -> list[ArgDecl]:
    """The ``<arg>`` declarations of one file (not its includes), without executing it."""
    root = load_xml(os.path.abspath(path))
    found: list[ArgDecl] = []

    def visit(el: Element, conditional: bool) -> None:
        for child in el.children:
            cond = conditional or any(a in child.attrib for a in CONDITION_ATTRS)
            if child.tag == 'arg':
                choices = child.attrib.get('choices')
                found.append(
                    ArgDecl(
                        name=child.attrib.get('name', ''),
                        default=child.attrib.get('default'),
                        description=child.attrib.get('description', ''),
                        choices=[c.strip() for c in choices.split(',')] if choices else None,
                        source=f'{child.file}:{child.line}',
                        conditional=cond,
                    )
                )
            elif child.tag == 'group':
                visit(child, cond)

    visit(root, False)
    return found


# -------------------------------------------------------------------------------- parser


class _Executor:
    def __init__(self) -> None:
        self.nodes: list[NodeSpec] = []
        self.declared: set[str] = set()
        self.file_stack: list[str] = []

    def ctx(self, scope: _Scope, el: Element) -> SubstitutionContext:
        return SubstitutionContext(scope.configs, scope.environ, el.file, el.line)

    def sub(self, scope: _Scope, el: Element, attr: str) -> str:
        return substitute(el.attrib[attr], self.ctx(scope, el))

    def opt(self, scope: _Scope, el: Element, attr: str) -> str | None:
        return self.sub(scope, el, attr) if attr in el.attrib else None

    def flag(self, scope: _Scope, el: Element, attr: str, default: bool) -> bool:
        if attr not in el.attrib:
            return default
        try:
            return evaluate_condition(self.sub(scope, el, attr))
        except ValueError as exc:
            raise el.error(f"attribute '{attr}' of <{el.tag}>: {exc}") from None

    # ---------------------------------------------------------------------------- files

    def run_file(self, path: str, scope: _Scope, include_el: Element | None = None) -> None:
        if path in self.file_stack:
            chain = ' -> '.join([*self.file_stack, path])
            raise (include_el.error if include_el else LaunchError)(f'include cycle: {chain}')
        if len(self.file_stack) >= _MAX_INCLUDE_DEPTH:
            raise (include_el.error if include_el else LaunchError)('includes nested too deep')
        root = load_xml(path)
        if root.tag != 'launch':
            raise root.error(f'the root element must be <launch>, not <{root.tag}>')
        _check_attrs(root, ('version',))
        self.file_stack.append(path)
        try:
            self.run_children(root, scope)
        finally:
            self.file_stack.pop()

    def run_children(self, parent: Element, scope: _Scope) -> None:
        if parent.text.strip():
            raise parent.error(
                f'<{parent.tag}> must not contain text ({parent.text.strip()[:40]!r})'
            )
        for el in parent.children:
            if el.tag == 'keep' and parent.tag == 'group':
                continue  # read by the group itself
            self.action(el, scope)

    # -------------------------------------------------------------------------- actions

    def action(self, el: Element, scope: _Scope) -> None:
        if el.tag not in ACTION_ATTRS:
            raise el.error(
                f'unsupported tag <{el.tag}> (supported: '
                + ', '.join(f'<{t}>' for t in ACTION_ATTRS)
                + '; inside <node>: <param>, <remap>, <env>; inside <include>: <arg>; '
                'inside <group>: <keep>)'
            )
        _check_attrs(el, ACTION_ATTRS[el.tag] + CONDITION_ATTRS)
        if 'if' in el.attrib and 'unless' in el.attrib:
            raise el.error(f"<{el.tag}>: 'if' and 'unless' cannot be used together")
        for attr, wanted in (('if', True), ('unless', False)):
            if attr in el.attrib:
                value = self.sub(scope, el, attr)
                try:
                    if evaluate_condition(value) != wanted:
                        return
                except ValueError as exc:
                    raise el.error(f"condition '{attr}' of <{el.tag}>: {exc}") from None
        handler = getattr(self, 'do_' + el.tag.replace('-', '_'))
        handler(el, scope)

    def do_arg(self, el: Element, scope: _Scope) -> None:
        _no_children(el)
        name = self.sub(scope, el, 'name') if 'name' in el.attrib else _required(el, 'name')
        self.declared.add(name)
        if name not in scope.configs:
            if 'default' not in el.attrib:
                decls = declared_arguments(el.file)
                listing = '; '.join(d.describe() for d in decls)
                raise el.error(
                    f"missing required argument '{name}': pass {name}:=VALUE "
                    f'(arguments of {os.path.basename(el.file)}: {listing})'
                )
            scope.configs[name] = self.sub(scope, el, 'default')
        choices = self.opt(scope, el, 'choices')
        if choices is not None:
            options = [c.strip() for c in choices.split(',')]
            if scope.configs[name] not in options:
                raise el.error(
                    f"argument '{name}' is {scope.configs[name]!r}, expected one of: "
                    + ', '.join(options)
                )

    def do_let(self, el: Element, scope: _Scope) -> None:
        _no_children(el)
        name = self.sub(scope, el, 'name') if 'name' in el.attrib else _required(el, 'name')
        _required(el, 'value')
        scope.configs[name] = self.sub(scope, el, 'value')

    def do_set_env(self, el: Element, scope: _Scope) -> None:
        _no_children(el)
        _required(el, 'name')
        _required(el, 'value')
        scope.environ[self.sub(scope, el, 'name')] = self.sub(scope, el, 'value')

    def do_unset_env(self, el: Element, scope: _Scope) -> None:
        _no_children(el)
        _required(el, 'name')
        scope.environ.pop(self.sub(scope, el, 'name'), None)

    def do_push_ros_namespace(self, el: Element, scope: _Scope) -> None:
        _no_children(el)
        _required(el, 'namespace')
        pushed = self.sub(scope, el, 'namespace')
        ns = normalize_namespace(prefix_namespace(scope.namespace, pushed) or '')
        problem = _validate_namespace(ns)
        if problem:
            raise el.error(problem)
        scope.namespace = ns

    def do_group(self, el: Element, scope: _Scope) -> None:
        scoped = self.flag(scope, el, 'scoped', True)
        forwarding = self.flag(scope, el, 'forwarding', True)
        keep: dict[str, str] = {}
        for child in el.children:
            if child.tag == 'keep':
                _check_attrs(child, ('name', 'value'))
                _no_children(child)
                _required(child, 'name')
                _required(child, 'value')
                keep[self.sub(scope, child, 'name')] = self.sub(scope, child, 'value')
        if not scoped:
            if not forwarding:
                raise el.error("<group scoped='false'> cannot have forwarding='false'")
            scope.configs.update(keep)
            self.run_children(el, scope)
            return
        inner = scope.copy()
        if forwarding:
            inner.configs.update(keep)
        else:
            inner.configs = keep
            inner.namespace = None  # the ROS namespace is a launch configuration upstream
        self.run_children(el, inner)

    def do_include(self, el: Element, scope: _Scope) -> None:
        file_attr = _required(el, 'file')
        path = os.path.abspath(self.sub(scope, el, 'file'))
        if not path.endswith('.xml'):
            raise el.error(
                f'<include file={file_attr!r}>: only XML launch files can be included by '
                f'this launcher, not {os.path.basename(path)!r}'
            )
        if not os.path.isfile(path):
            raise el.error(f'<include>: launch file not found: {path}')
        given: list[str] = []
        for child in el.children:
            if child.tag != 'arg':
                raise child.error(f'<{child.tag}> is not allowed inside <include> (only <arg>)')
            _check_attrs(child, ('name', 'value'))
            _no_children(child)
            _required(child, 'name')
            _required(child, 'value')
            given.append(self.sub(scope, child, 'name'))
        missing = [
            d
            for d in declared_arguments(path)
            if d.default is None and not d.conditional and d.name not in given
        ]
        if missing:
            decls = '; '.join(d.describe() for d in declared_arguments(path))
            raise el.error(
                f'included file {path} needs argument(s) '
                + ', '.join(repr(d.name) for d in missing)
                + f' (given: {", ".join(given) or "none"}; it declares: {decls})'
            )
        for child in el.children:
            # set one by one, like launch's SetLaunchConfiguration actions
            scope.configs[self.sub(scope, child, 'name')] = self.sub(scope, child, 'value')
        self.run_file(path, scope, el)

    def do_node(self, el: Element, scope: _Scope) -> None:
        if el.text.strip():
            raise el.error(f'<node> must not contain text ({el.text.strip()[:40]!r})')
        package = self.sub(scope, el, 'pkg') if 'pkg' in el.attrib else _required(el, 'pkg')
        executable = self.sub(scope, el, 'exec') if 'exec' in el.attrib else _required(el, 'exec')
        path = _find_executable(el, package, executable)
        name = self.opt(scope, el, 'name')
        if name is not None and not _NAME_RE.match(name):
            raise el.error(
                f"invalid node name {name!r}: letters, digits and '_', not starting with a digit"
            )
        ns_attr = self.opt(scope, el, 'namespace')
        namespace = prefix_namespace(scope.namespace, ns_attr)
        if namespace is not None:
            namespace = normalize_namespace(namespace)
            problem = _validate_namespace(namespace)
            if problem:
                raise el.error(problem)
        output = self.opt(scope, el, 'output') or 'screen'
        if output not in OUTPUT_VALUES:
            raise el.error(
                f'output={output!r} on <node>: expected one of {", ".join(OUTPUT_VALUES)}'
            )
        spec = NodeSpec(
            package=package,
            executable=executable,
            path=path,
            name=name,
            namespace=namespace,
            arguments=self._split(scope, el, 'args'),
            ros_arguments=self._split(scope, el, 'ros_args'),
            prefix=self._split(scope, el, 'launch-prefix'),
            output=output,
            source=f'{el.file}:{el.line}',
        )
        inline: dict[str, ParamValue] = {}
        files: list[str] = []
        for child in el.children:
            if child.tag == 'param':
                self._param(child, scope, inline, files)
            elif child.tag == 'remap':
                _check_attrs(child, ('from', 'to'))
                _no_children(child)
                _required(child, 'from')
                _required(child, 'to')
                spec.remappings.append(
                    (self.sub(scope, child, 'from'), self.sub(scope, child, 'to'))
                )
            elif child.tag == 'env':
                _check_attrs(child, ('name', 'value'))
                _no_children(child)
                _required(child, 'name')
                _required(child, 'value')
                spec.node_env[self.sub(scope, child, 'name')] = self.sub(scope, child, 'value')
            else:
                raise child.error(
                    f'unsupported tag <{child.tag}> inside <node> (supported: <param>, '
                    '<remap>, <env>)'
                )
        # launch_ros (XML): parameter files in order, then all inline parameters in one file
        spec.parameters = [*files, inline] if inline else list(files)
        spec.env = {**scope.environ, **spec.node_env}
        self.nodes.append(spec)

    def _split(self, scope: _Scope, el: Element, attr: str) -> list[str]:
        value = self.opt(scope, el, attr)
        if value is None:
            return []
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise el.error(f"attribute '{attr}' of <{el.tag}>: {exc} in {value!r}") from None

    def _param(
        self, el: Element, scope: _Scope, inline: dict[str, ParamValue], files: list[str]
    ) -> None:
        _check_attrs(el, ('name', 'value', 'value-sep', 'from'))
        if 'from' in el.attrib:
            if 'name' in el.attrib:
                raise el.error("<param>: 'name' and 'from' are mutually exclusive")
            for attr in ('value', 'value-sep'):
                if attr in el.attrib:
                    raise el.error(f"<param from=...> cannot have '{attr}'")
            _no_children(el)
            path = os.path.abspath(self.sub(scope, el, 'from'))
            if not os.path.isfile(path):
                raise el.error(f'<param from=...>: parameter file not found: {path}')
            files.append(path)
            return
        if 'name' not in el.attrib:
            raise el.error("<param> needs the attribute 'name' or 'from'")
        name = self.sub(scope, el, 'name')
        if el.children:
            if 'value' in el.attrib:
                raise el.error(f"<param name='{name}'> has both a value and nested <param>s")
            nested: dict[str, ParamValue] = {}
            for child in el.children:
                if child.tag != 'param':
                    raise child.error(f'<{child.tag}> is not allowed inside <param>')
                if 'from' in child.attrib:
                    raise child.error('a nested <param> cannot use from=')
                self._param(child, scope, nested, files)
            existing = inline.get(name)
            if isinstance(existing, dict):
                existing.update(nested)
            else:
                inline[name] = nested
            return
        if 'value' not in el.attrib:
            raise el.error(f"<param name='{name}'> needs a 'value' (or nested <param>s)")
        value = self.sub(scope, el, 'value')
        try:
            sep = self.opt(scope, el, 'value-sep')
            if sep is not None:
                if not sep:
                    raise ValueError('value-sep must not be empty')
                items = [type_param_value(v) for v in value.split(sep)]
                inline[name] = _uniform_list(items, value)
            else:
                inline[name] = type_param_value(value)
        except ValueError as exc:
            raise el.error(f"<param name='{name}'>: {exc}") from None


def _find_executable(el: Element, package: str, executable: str) -> str:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = get_package_prefix(package)
    except (PackageNotFoundError, LookupError, ValueError):
        raise el.error(
            f"<node pkg='{package}'>: package not found in the ament index "
            f'(AMENT_PREFIX_PATH={os.environ.get("AMENT_PREFIX_PATH", "(unset)")})'
        ) from None
    folder = os.path.join(prefix, 'lib', package)
    path = os.path.join(folder, executable)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        try:
            available = sorted(
                f for f in os.listdir(folder) if os.access(os.path.join(folder, f), os.X_OK)
            )
        except OSError:
            available = []
        raise el.error(
            f"<node exec='{executable}'>: no executable '{executable}' in package "
            f"'{package}' ({folder}; available: {', '.join(available) or 'none'})"
        )
    return path


def load_launch(
    path: str, arguments: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> LaunchPlan:
    """Executes the actions of launch file ``path`` with ``arguments`` (name -> value) and
    returns the nodes to start. Nothing is started; raises :class:`LaunchError`."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LaunchError(f'launch file not found: {path}')
    if not path.endswith('.xml'):
        raise LaunchError(f'only XML launch files are supported, not {os.path.basename(path)!r}')
    base_env = dict(os.environ if environ is None else environ)
    args = dict(arguments or {})
    scope = _Scope(dict(args), base_env, None)
    executor = _Executor()
    executor.run_file(path, scope)
    plan = LaunchPlan(
        file=path,
        nodes=executor.nodes,
        arguments=declared_arguments(path),
        configurations=scope.configs,
    )
    for name in args:
        if name not in executor.declared:
            plan.warnings.append(
                f"argument '{name}' is not declared by {os.path.basename(path)} or its includes"
            )
    _assign_labels(plan.nodes)
    return plan


def _assign_labels(nodes: list[NodeSpec]) -> None:
    counts: dict[str, int] = {}
    for node in nodes:
        base = node.name or node.executable
        counts[base] = counts.get(base, 0) + 1
        node.label = base if counts[base] == 1 else f'{base}-{counts[base]}'
