"""XML launch files -> resolved nodes: arguments, scoping, includes, namespaces, parameters,
remaps, environment, and every error path (checked with its FILE:LINE). Nothing is started."""

from __future__ import annotations

import os
from pathlib import Path
import textwrap

from humanoid_bringup.launch.errors import LaunchError
from humanoid_bringup.launch.parser import LaunchPlan, NodeSpec, load_launch
import pytest
import yaml

from humanoid_bringup.launch import main

PKG = 'humanoid_bringup'
TALKER = f'<node pkg="{PKG}" exec="demo_talker"'


def write(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip('\n'))
    return str(path)


def launch(
    tmp_path: Path, body: str, args: dict[str, str] | None = None, **env: str
) -> LaunchPlan:
    path = write(tmp_path, 'main.launch.xml', body)
    return load_launch(path, args or {}, environ={'PATH': '/usr/bin', **env})


def error(tmp_path: Path, body: str, args: dict[str, str] | None = None) -> tuple[str, str]:
    """Returns (location, message) of the LaunchError the file raises."""
    with pytest.raises(LaunchError) as info:
        launch(tmp_path, body, args)
    err = info.value
    assert err.file is not None and err.line is not None, str(err)
    return f'{os.path.basename(err.file)}:{err.line}', err.message


def names(plan: LaunchPlan) -> list[str | None]:
    return [n.name for n in plan.nodes]


# ------------------------------------------------------------------------------- arguments


def test_arg_default_cli_override_and_let(tmp_path: Path) -> None:
    body = f"""
    <launch>
      <arg name="robot" default="atlas" description="robot name"/>
      <arg name="rate" default="5"/>
      <let name="node_name" value="$(var robot)_talker"/>
      {TALKER} name="$(var node_name)">
        <param name="rate_hz" value="$(var rate)"/>
      </node>
    </launch>
    """
    plan = launch(tmp_path, body)
    assert names(plan) == ['atlas_talker']
    assert plan.nodes[0].parameters == [{'rate_hz': 5}]
    plan = launch(tmp_path, body, {'robot': 'h1', 'rate': '2.5'})
    assert names(plan) == ['h1_talker']
    assert plan.nodes[0].parameters == [{'rate_hz': 2.5}]
    assert plan.configurations['node_name'] == 'h1_talker'
    assert [a.name for a in plan.arguments] == ['robot', 'rate']
    assert plan.warnings == []


def test_missing_required_arg_names_it_and_lists_the_declared_ones(tmp_path: Path) -> None:
    loc, msg = error(
        tmp_path,
        """
        <launch>
          <arg name="sim" default="mujoco" description="simulator"/>
          <arg name="robot"/>
        </launch>
        """,
    )
    assert loc == 'main.launch.xml:3'
    assert "missing required argument 'robot'" in msg
    assert "sim (default 'mujoco'): simulator" in msg
    assert 'robot (required)' in msg


def test_choices_are_checked(tmp_path: Path) -> None:
    body = """
    <launch>
      <arg name="sim" default="mujoco" choices="mujoco, gazebo, none"/>
    </launch>
    """
    assert launch(tmp_path, body, {'sim': 'none'}).configurations['sim'] == 'none'
    loc, msg = error(tmp_path, body, {'sim': 'isaac'})
    assert loc == 'main.launch.xml:2'
    assert "argument 'sim' is 'isaac', expected one of: mujoco, gazebo, none" in msg


def test_undeclared_cli_argument_is_a_warning(tmp_path: Path) -> None:
    plan = launch(tmp_path, '<launch><arg name="a" default="1"/></launch>', {'b': '2'})
    assert plan.warnings == ["argument 'b' is not declared by main.launch.xml or its includes"]


def test_bad_cli_argument_form() -> None:
    from humanoid_bringup.launch.parser import parse_cli_arguments

    assert parse_cli_arguments(['a:=1', 'b:=', 'c:=x:=y']) == {'a': '1', 'b': '', 'c': 'x:=y'}
    with pytest.raises(LaunchError, match="'sim=mujoco' is not of the form 'name:=value'"):
        parse_cli_arguments(['sim=mujoco'])


# ------------------------------------------------------------------------------ conditions


def test_if_unless_on_every_action(tmp_path: Path) -> None:
    body = f"""
    <launch>
      <arg name="sim" default="mujoco"/>
      <arg name="headless" default="true"/>
      <let name="x" value="set" if="$(var headless)"/>
      <let name="y" value="set" unless="$(var headless)"/>
      <group if="$(eval &quot;'$(var sim)' != 'none'&quot;)">
        {TALKER} name="sim_talker"/>
      </group>
      {TALKER} name="real_talker" if="$(eval &quot;'$(var sim)' == 'none'&quot;)"/>
      {TALKER} name="gui" unless="$(var headless)"/>
      <set_env name="E" value="1" if="FALSE"/>
      <push_ros_namespace namespace="never" if="0"/>
      <include file="$(dirname)/nope.launch.xml" if="false"/>
    </launch>
    """
    plan = launch(tmp_path, body)
    assert names(plan) == ['sim_talker']
    assert plan.configurations.get('x') == 'set' and 'y' not in plan.configurations
    assert plan.nodes[0].namespace is None and 'E' not in plan.nodes[0].env
    plan = launch(tmp_path, body, {'sim': 'none', 'headless': 'False'})
    assert names(plan) == ['real_talker', 'gui']


def test_condition_errors(tmp_path: Path) -> None:
    loc, msg = error(tmp_path, f'<launch>\n  {TALKER} if="yes"/>\n</launch>')
    assert loc == 'main.launch.xml:2'
    assert "condition 'if' of <node>: expected 'true', 'false', '1' or '0'" in msg
    loc, msg = error(
        tmp_path, '<launch>\n\n  <let name="a" value="1" if="1" unless="0"/>\n</launch>'
    )
    assert loc == 'main.launch.xml:3'
    assert "'if' and 'unless' cannot be used together" in msg


# ---------------------------------------------------------------------------------- groups


def test_scoped_group_restores_configs_env_and_namespace(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <let name="a" value="outer"/>
          <group>
            <let name="a" value="inner"/>
            <let name="b" value="inner"/>
            <set_env name="GROUP_ENV" value="1"/>
            <push_ros_namespace namespace="g"/>
            {TALKER} name="in_$(var a)"/>
          </group>
          {TALKER} name="out_$(var a)"/>
        </launch>
        """,
    )
    inside, outside = plan.nodes
    assert (inside.name, inside.namespace, inside.env.get('GROUP_ENV')) == ('in_inner', '/g', '1')
    assert (outside.name, outside.namespace) == ('out_outer', None)
    assert 'GROUP_ENV' not in outside.env
    assert 'b' not in plan.configurations


def test_unscoped_group_leaks(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <group scoped="false">
            <let name="a" value="leaked"/><push_ros_namespace namespace="n"/>
          </group>
          {TALKER} name="t_$(var a)"/>
        </launch>
        """,
    )
    assert (plan.nodes[0].name, plan.nodes[0].namespace) == ('t_leaked', '/n')


def test_group_without_forwarding_keeps_only_keep(tmp_path: Path) -> None:
    body = f"""
    <launch>
      <let name="a" value="A"/>
      <let name="b" value="B"/>
      <group forwarding="false">
        <keep name="a" value="$(var a)"/>
        {TALKER} name="t_$(var a)"/>
        {TALKER} name="t_$(var b)"/>
      </group>
    </launch>
    """
    loc, msg = error(tmp_path, body)
    assert loc == 'main.launch.xml:7'
    assert "launch configuration 'b' is not set (set here: a)" in msg


# ------------------------------------------------------------------------------ namespaces


@pytest.mark.parametrize(
    ('pushes', 'node_ns', 'expected'),
    [
        ([], None, None),
        ([], 'solo', '/solo'),
        ([], '', '/'),
        (['robot1'], None, '/robot1'),
        (['robot1'], 'arm', '/robot1/arm'),
        (['/robot1/', 'arm//'], None, '/robot1/arm'),
        (['robot1'], '/abs', '/abs'),  # an absolute node namespace ignores pushed ones
        (['robot1', '/fleet'], None, '/fleet'),
        ([''], None, '/'),  # namespace:='' (the default of the contract's argument)
    ],
)
def test_namespaces(
    tmp_path: Path, pushes: list[str], node_ns: str | None, expected: str | None
) -> None:
    push = ''.join(f'<push-ros-namespace namespace="{p}"/>' for p in pushes)
    ns_attr = '' if node_ns is None else f' namespace="{node_ns}"'
    plan = launch(tmp_path, f'<launch><group>{push}{TALKER} name="t"{ns_attr}/></group></launch>')
    assert plan.nodes[0].namespace == expected


def test_namespace_argument_the_contract_way(tmp_path: Path) -> None:
    body = f"""
    <launch>
      <arg name="namespace" default=""/>
      <push_ros_namespace namespace="$(var namespace)"/>
      {TALKER} name="talker"/>
    </launch>
    """
    node = launch(tmp_path, body, {'namespace': 'robot1'}).nodes[0]
    assert node.full_name == '/robot1/talker'
    cmd = node.command(str(tmp_path))
    assert cmd[cmd.index('--ros-args') :][:5] == [
        '--ros-args', '-r', '__node:=talker', '-r', '__ns:=/robot1'
    ]  # fmt: skip
    assert launch(tmp_path, body).nodes[0].namespace == '/'


@pytest.mark.parametrize('ns', ['1robot', 'ro-bot', 'a b'])
def test_invalid_namespace(tmp_path: Path, ns: str) -> None:
    loc, msg = error(tmp_path, f'<launch>\n<push_ros_namespace namespace="{ns}"/>\n</launch>')
    assert loc == 'main.launch.xml:2'
    assert 'invalid namespace' in msg


# -------------------------------------------------------------------------------- includes


def test_include_passes_args_and_leaks_like_ros2_launch(tmp_path: Path) -> None:
    write(
        tmp_path,
        'sub/child.launch.xml',
        f"""
        <launch>
          <arg name="who"/>
          <arg name="rate" default="1.0"/>
          {TALKER} name="$(var who)">
            <param from="$(dirname)/params.yaml"/>
            <param name="rate_hz" value="$(var rate)"/>
          </node>
        </launch>
        """,
    )
    write(tmp_path, 'sub/params.yaml', '/**:\n  ros__parameters:\n    message: hi\n')
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <let name="name" value="first"/>
          <group>
            <include file="$(dirname)/sub/child.launch.xml">
              <arg name="who" value="$(var name)"/>
            </include>
          </group>
          <include file="$(dirname)/sub/child.launch.xml">
            <arg name="who" value="second"/>
            <arg name="rate" value="3"/>
          </include>
          {TALKER} name="after_$(var who)_$(var rate)"/>
        </launch>
        """,
    )
    assert names(plan) == ['first', 'second', 'after_second_3']
    first, second, _ = plan.nodes
    assert first.parameters == [str(tmp_path / 'sub' / 'params.yaml'), {'rate_hz': 1.0}]
    assert second.parameters[1] == {'rate_hz': 3}
    assert first.source == f'{tmp_path / "sub" / "child.launch.xml"}:4'


def test_included_file_inherits_pushed_namespace(tmp_path: Path) -> None:
    write(tmp_path, 'child.launch.xml', f'<launch>{TALKER} name="t"/></launch>')
    plan = launch(
        tmp_path,
        """
        <launch><group>
          <push_ros_namespace namespace="robot2"/>
          <include file="$(dirname)/child.launch.xml"/>
        </group></launch>
        """,
    )
    assert plan.nodes[0].full_name == '/robot2/t'


def test_include_missing_required_arg(tmp_path: Path) -> None:
    write(
        tmp_path,
        'child.launch.xml',
        '<launch>\n<arg name="who" description="node name"/>\n</launch>',
    )
    loc, msg = error(
        tmp_path,
        """
        <launch>
          <let name="who" value="not passed explicitly"/>
          <include file="$(dirname)/child.launch.xml">
            <arg name="other" value="1"/>
          </include>
        </launch>
        """,
    )
    assert loc == 'main.launch.xml:3'
    assert "needs argument(s) 'who' (given: other; it declares: who (required): node name)" in msg


@pytest.mark.parametrize(
    ('include', 'message'),
    [
        ('$(dirname)/none.launch.xml', 'launch file not found'),
        ('$(dirname)/x.launch.py', 'only XML launch files can be included'),
        ('$(dirname)/main.launch.xml', 'include cycle'),
    ],
)
def test_include_errors(tmp_path: Path, include: str, message: str) -> None:
    loc, msg = error(tmp_path, f'<launch>\n  <include file="{include}"/>\n</launch>')
    assert loc == 'main.launch.xml:2'
    assert message in msg


def test_include_children_must_be_args(tmp_path: Path) -> None:
    write(tmp_path, 'child.launch.xml', '<launch/>')
    loc, msg = error(
        tmp_path,
        '<launch>\n<include file="$(dirname)/child.launch.xml">\n<let name="a" value="1"/>\n'
        '</include>\n</launch>',
    )
    assert loc == 'main.launch.xml:3'
    assert '<let> is not allowed inside <include> (only <arg>)' in msg


# ------------------------------------------------------------------------- nodes and params


def test_full_node_command_line_matches_launch_ros(tmp_path: Path) -> None:
    params = write(tmp_path, 'p.yaml', '/**:\n  ros__parameters:\n    a: 1\n')
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <push_ros_namespace namespace="robot1"/>
          <node pkg="{PKG}" exec="demo_listener" name="listener" namespace="sensors"
                args="--flag 'two words'" ros_args="--log-level debug" output="both">
            <param from="{params}"/>
            <param name="max_messages" value="3"/>
            <remap from="chatter" to="/global_chatter"/>
            <env name="NODE_ONLY" value="x"/>
          </node>
        </launch>
        """,
    )
    node = plan.nodes[0]
    cmd = node.command(str(tmp_path))
    inline = str(tmp_path / 'launch_params_listener_1.yaml')
    assert cmd == [
        node.path,
        '--flag',
        'two words',
        '--ros-args',
        '--log-level',
        'debug',
        '--ros-args',
        '-r', '__node:=listener',
        '-r', '__ns:=/robot1/sensors',
        '--params-file', params,
        '--params-file', inline,
        '-r', 'chatter:=/global_chatter',
    ]  # fmt: skip
    assert node.path.endswith(os.path.join('lib', PKG, 'demo_listener'))
    assert os.access(node.path, os.X_OK)
    assert yaml.safe_load(Path(inline).read_text()) == {
        '/robot1/sensors/listener': {'ros__parameters': {'max_messages': 3}}
    }
    assert node.env['NODE_ONLY'] == 'x' and node.output == 'both'


def test_inline_params_without_namespace_use_wildcard_key(tmp_path: Path) -> None:
    node = launch(
        tmp_path, f'<launch>{TALKER} name="t"><param name="a" value="1"/></node></launch>'
    )
    assert node.nodes[0].params_file_key() == '/**'
    node = launch(tmp_path, f'<launch>{TALKER}/></launch>').nodes[0]
    assert node.name is None and node.label == 'demo_talker'
    assert '-r' not in node.command(str(tmp_path))


def test_inline_param_types(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f"""
        <launch>
          {TALKER}>
            <param name="i" value="42"/>
            <param name="f" value="0.5"/>
            <param name="b" value="True"/>
            <param name="s" value="hello world"/>
            <param name="quoted_int" value="'7'"/>
            <param name="empty" value=""/>
            <param name="ints" value="[1, 2, 3]"/>
            <param name="mixed_numbers" value="[1, 2.5]"/>
            <param name="names" value="a;b;c" value-sep=";"/>
            <param name="floats" value="1.0,2.0" value-sep=","/>
            <param name="group">
              <param name="x" value="1"/>
              <param name="sub"><param name="y" value="false"/></param>
            </param>
          </node>
        </launch>
        """,
    )
    assert plan.nodes[0].parameters == [
        {
            'i': 42,
            'f': 0.5,
            'b': True,
            's': 'hello world',
            'quoted_int': '7',
            'empty': '',
            'ints': [1, 2, 3],
            'mixed_numbers': [1.0, 2.5],
            'names': ['a', 'b', 'c'],
            'floats': [1.0, 2.0],
            'group': {'x': 1, 'sub': {'y': False}},
        }
    ]


@pytest.mark.parametrize(
    ('inner', 'line', 'message'),
    [
        ('<param name="l" value="[1, a]"/>', 3, 'a list parameter needs items of one type'),
        ('<param value="1"/>', 3, "<param> needs the attribute 'name' or 'from'"),
        ('<param name="a"/>', 3, "<param name='a'> needs a 'value'"),
        ('<param name="a" from="x.yaml"/>', 3, "'name' and 'from' are mutually exclusive"),
        ('<param from="/no/such/params.yaml"/>', 3, 'parameter file not found: /no/such'),
        ('<param name="a" value="1" type="int"/>', 3, "unknown attribute 'type' on <param>"),
        ('<remap from="a"/>', 3, "<remap> needs the attribute 'to'"),
        ('<env name="A"/>', 3, "<env> needs the attribute 'value'"),
        ('<respawn/>', 3, 'unsupported tag <respawn> inside <node>'),
        ('text', 2, '<node> must not contain text'),
    ],
)
def test_node_child_errors(tmp_path: Path, inner: str, line: int, message: str) -> None:
    loc, msg = error(tmp_path, f'<launch>\n  {TALKER}>\n    {inner}\n  </node>\n</launch>')
    assert loc == f'main.launch.xml:{line}'
    assert message in msg


@pytest.mark.parametrize(
    ('attrs', 'message'),
    [
        ('pkg="no_such_pkg_x" exec="a"', "<node pkg='no_such_pkg_x'>: package not found"),
        (f'pkg="{PKG}" exec="nope"', "no executable 'nope' in package 'humanoid_bringup'"),
        (f'pkg="{PKG}"', "<node> needs the attribute 'exec'"),
        ('exec="demo_talker"', "<node> needs the attribute 'pkg'"),
        (f'pkg="{PKG}" exec="demo_talker" name="bad-name"', "invalid node name 'bad-name'"),
        (f'pkg="{PKG}" exec="demo_talker" output="loud"', "output='loud' on <node>"),
        (
            f'pkg="{PKG}" exec="demo_talker" respawn="true"',
            "unknown attribute 'respawn' on <node>",
        ),
        (f'pkg="{PKG}" exec="demo_talker" args="\'open"', "attribute 'args' of <node>"),
    ],
)
def test_node_errors(tmp_path: Path, attrs: str, message: str) -> None:
    loc, msg = error(tmp_path, f'<launch>\n\n  <node {attrs}/>\n</launch>')
    assert loc == 'main.launch.xml:3'
    assert message in msg


def test_missing_executable_lists_the_available_ones(tmp_path: Path) -> None:
    _, msg = error(tmp_path, f'<launch><node pkg="{PKG}" exec="nope"/></launch>')
    assert 'demo_listener' in msg and 'demo_talker' in msg


def test_duplicate_labels_are_made_unique(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f'<launch>{TALKER} name="t"/>{TALKER} name="t" namespace="b"/>{TALKER}/></launch>',
    )
    assert [n.label for n in plan.nodes] == ['t', 't-2', 'demo_talker']


# ------------------------------------------------------------------------------ environment


def test_set_env_unset_env_and_env_substitution(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <set_env name="MODE" value="sim"/>
          <unset_env name="DROP_ME"/>
          {TALKER} name="t_$(env MODE)_$(env DROP_ME gone)">
            <env name="MODE" value="node"/>
          </node>
        </launch>
        """,
        DROP_ME='x',
    )
    node = plan.nodes[0]
    assert node.name == 't_sim_gone'
    assert node.env['MODE'] == 'node' and 'DROP_ME' not in node.env
    assert node.env['PATH'] == '/usr/bin'


# ----------------------------------------------------------------------- structural errors


@pytest.mark.parametrize(
    ('body', 'loc', 'message'),
    [
        ('<launch>\n  <executable cmd="ls"/>\n</launch>', 2, 'unsupported tag <executable>'),
        (
            '<launch>\n\n  <set_remap from="a" to="b"/>\n</launch>',
            3,
            'unsupported tag <set_remap>',
        ),
        (
            '<launch>\n  <arg name="a" value="1"/>\n</launch>',
            2,
            "unknown attribute 'value' on <arg>",
        ),
        ('<launch>\n  <let name="a"/>\n</launch>', 2, "<let> needs the attribute 'value'"),
        ('<launch>\n  <group scoped="maybe"/>\n</launch>', 2, "attribute 'scoped' of <group>"),
        ('<launch>\n  <group>\n    <keep name="a"/>\n  </group>\n</launch>', 3, "'value'"),
        ('<launch>\n  <let name="a" value="1">\n  <x/></let>\n</launch>', 3, 'not allowed inside'),
        ('<launch>\n  <node pkg="a"\n</launch>', 3, 'invalid XML'),
        ('<robot>\n</robot>', 1, 'the root element must be <launch>'),
        ('<launch foo="1"/>', 1, "unknown attribute 'foo' on <launch>"),
        ('<launch>\n  stray text\n</launch>', 1, '<launch> must not contain text'),
    ],
)
def test_structural_errors(tmp_path: Path, body: str, loc: int, message: str) -> None:
    location, msg = error(tmp_path, body)
    assert location == f'main.launch.xml:{loc}'
    assert message in msg


def test_error_in_included_file_points_into_it(tmp_path: Path) -> None:
    write(tmp_path, 'child.launch.xml', '<launch>\n\n\n  <unknown_thing/>\n</launch>')
    loc, msg = error(tmp_path, '<launch><include file="$(dirname)/child.launch.xml"/></launch>')
    assert loc == 'child.launch.xml:4'
    assert 'unsupported tag <unknown_thing>' in msg


def test_missing_launch_file() -> None:
    with pytest.raises(LaunchError, match=r'launch file not found: /no/such\.launch\.xml'):
        load_launch('/no/such.launch.xml')


# -------------------------------------------------------------------------- full example


FULL = f"""
<launch>
  <arg name="sim" default="mujoco" choices="mujoco,gazebo,none" description="simulator"/>
  <arg name="robot" default="humanoid"/>
  <arg name="planner" default="embedded"/>
  <arg name="headless" default="true"/>
  <arg name="namespace" default=""/>
  <arg name="use_sim_time" default="$(eval &quot;'$(var sim)' != 'none'&quot;)"/>
  <set_env name="MUJOCO_GL" value="egl" if="$(var headless)"/>
  <group>
    <push-ros-namespace namespace="$(var namespace)"/>
    <group if="$(eval &quot;'$(var sim)' == 'mujoco'&quot;)">
      {TALKER} name="sim" output="screen">
        <param name="use_sim_time" value="$(var use_sim_time)"/>
        <param name="message" value="$(var robot)"/>
      </node>
    </group>
    <node pkg="{PKG}" exec="demo_listener" name="planner"
          unless="$(eval &quot;'$(var planner)' == 'none'&quot;)">
      <param name="use_sim_time" value="$(var use_sim_time)"/>
      <remap from="chatter" to="sim_chatter"/>
    </node>
  </group>
</launch>
"""


def test_a_typical_file_using_the_whole_subset(tmp_path: Path) -> None:
    plan = launch(tmp_path, FULL, {'namespace': 'robot1'})
    sim, planner = plan.nodes
    assert (sim.full_name, planner.full_name) == ('/robot1/sim', '/robot1/planner')
    assert sim.parameters == [{'use_sim_time': True, 'message': 'humanoid'}]
    assert sim.env['MUJOCO_GL'] == 'egl'
    assert planner.remappings == [('chatter', 'sim_chatter')]
    plan = launch(tmp_path, FULL, {'sim': 'none', 'planner': 'none'})
    assert plan.nodes == []


def test_main_show_and_show_args(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'full.launch.xml', FULL)
    assert main(['--show', path, 'namespace:=robot1']) == 0
    out = capsys.readouterr().out
    assert '[sim]' in out and '[planner]' in out
    assert '-r __ns:=/robot1' in out and '-r chatter:=sim_chatter' in out
    assert '/robot1/sim:' in out and 'use_sim_time: true' in out
    assert main(['--show-args', path]) == 0
    out = capsys.readouterr().out
    assert "sim (default 'mujoco') [mujoco|gazebo|none]: simulator" in out


def test_main_reports_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'bad.launch.xml', '<launch>\n  <bogus/>\n</launch>')
    assert main([path]) == 2
    assert f'humanoid launch: error: {path}:2: unsupported tag <bogus>' in capsys.readouterr().err
    assert main([path, 'oops']) == 2
    assert "'oops' is not of the form 'name:=value'" in capsys.readouterr().err


def test_nodespec_is_plain_data() -> None:
    spec = NodeSpec(package='p', executable='e', path='/bin/true', name='n', namespace='/')
    assert spec.full_name == '/n'
    assert spec.command('/tmp') == ['/bin/true', '--ros-args', '-r', '__node:=n', '-r', '__ns:=/']


def test_launch_prefix_goes_before_the_executable(tmp_path: Path) -> None:
    plan = launch(
        tmp_path,
        f"""
        <launch>
          <arg name="niceness" default="10"/>
          {TALKER} name="t" launch-prefix="nice -n $(var niceness)" args="--x"/>
        </launch>
        """,
    )
    node = plan.nodes[0]
    assert node.prefix == ['nice', '-n', '10']
    assert node.command(str(tmp_path))[:5] == ['nice', '-n', '10', node.path, '--x']
    _, msg = error(tmp_path, f'<launch>{TALKER} launch-prefix="nice \'-n"/></launch>')
    assert "attribute 'launch-prefix' of <node>" in msg
