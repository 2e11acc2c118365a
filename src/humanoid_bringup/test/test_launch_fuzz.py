"""Fuzzing the launch XML parser (hypothesis): only LaunchError (with a message) escapes."""

from __future__ import annotations

from pathlib import Path
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from humanoid_bringup.launch import LaunchError, load_launch

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LAUNCH_TAGS = ['launch', 'arg', 'let', 'include', 'group', 'node', 'param', 'remap', 'env',
               'set_env', 'push_ros_namespace', 'timer', 'executable']  # fmt: skip
ATTRS = ['name', 'default', 'value', 'pkg', 'exec', 'if', 'unless', 'file', 'from', 'namespace',
         'bogus']  # fmt: skip
VALUES = ['x', '', 'true', 'maybe', '$(var x)', '$(var', '$(env HOME)', '$(eval "1+1")',
          '$(eval "__import__(\'os\')")', '$(find-pkg-share nope)', 'a:=b',
          '$(dirname)']  # fmt: skip


@st.composite
def launch_xml(draw, depth: int = 0) -> str:
    tag = draw(st.sampled_from(LAUNCH_TAGS))
    attrs = draw(st.dictionaries(st.sampled_from(ATTRS), st.sampled_from(VALUES), max_size=3))
    text = ' '.join(f'{k}="{v.replace(chr(34), "&quot;")}"' for k, v in attrs.items())
    children = ''
    if depth < 2:
        children = ''.join(draw(st.lists(launch_xml(depth + 1), max_size=3)))
    return f'<{tag} {text}>{children}</{tag}>'


@pytest.fixture(scope='module')
def launch_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('fuzz_launch')


@SETTINGS
@given(
    body=st.one_of(
        launch_xml().map(lambda x: f'<launch>{x}</launch>'),
        launch_xml(),
        st.text(alphabet=string.printable, max_size=200),
    )
)
def test_launch_parser_raises_only_launch_errors(launch_dir, body):
    path = launch_dir / 'fuzz.launch.xml'
    path.write_text(body)
    try:
        load_launch(str(path), {}, environ={'HOME': '/tmp'})
    except LaunchError as exc:
        assert str(exc)
