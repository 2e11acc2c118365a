"""Substitutions, conditions and the safe $(eval) of the XML launcher (no processes)."""

from __future__ import annotations

import os

from humanoid_bringup.launch.errors import LaunchError
from humanoid_bringup.launch.substitutions import (
    EvalError,
    SubstitutionContext,
    evaluate_condition,
    safe_eval,
    substitute,
)
import pytest

FILE = '/launch/dir/robot.launch.xml'


def ctx(**configs: str) -> SubstitutionContext:
    return SubstitutionContext(
        configs=configs, environ={'HOME': '/home/me', 'EMPTY': ''}, file=FILE, line=7
    )


@pytest.mark.parametrize(
    ('text', 'expected'),
    [
        ('plain text', 'plain text'),
        ('$(var sim)', 'mujoco'),
        ('pre-$(var sim)-post', 'pre-mujoco-post'),
        ('$(var $(var which))', 'mujoco'),  # nested substitution in an argument
        ('$(env HOME)', '/home/me'),
        ('$(env EMPTY default)', ''),  # set (even empty) wins over the default
        ('$(env NOT_SET_X fallback)', 'fallback'),
        ("$(env NOT_SET_X 'two words')", 'two words'),
        ('$(optenv NOT_SET_X)', ''),
        ('$(dirname)/x.yaml', '/launch/dir/x.yaml'),
        ('$(filename)', 'robot.launch.xml'),
        ('cost: 5$', 'cost: 5$'),  # a lone $ is literal
        (r'\$(var sim)', '$(var sim)'),  # escaped
        ('$(eval "$(var n) * 2 + 1")', '7'),
        ("""$(eval "'$(var sim)' == 'mujoco'")""", 'True'),
        ("""$(eval "'$(var sim)' in ('gazebo', 'none')")""", 'False'),
        ("$(eval '1 if $(var n) > 2 else 0')", '1'),
        ("$(eval 'not ($(var n) < 2 or False)')", 'True'),
        ("$(eval '10 / 4')", '2.5'),
        ("$(eval 'round(degrees(pi))')", '180'),
        ("$(eval 'math.sqrt(16.0)')", '4.0'),
        ("$(eval 'max(1, $(var n)) ** 2 % 7')", '2'),
    ],
)
def test_substitutions(text: str, expected: str) -> None:
    assert substitute(text, ctx(sim='mujoco', which='sim', n='3')) == expected


def test_find_pkg_share_uses_the_ament_index() -> None:
    share = substitute('$(find-pkg-share humanoid_bringup)/launch', ctx())
    assert share.endswith(os.path.join('share', 'humanoid_bringup', 'launch'))
    assert os.path.isdir(share)
    prefix = substitute('$(find-pkg-prefix humanoid_bringup)', ctx())
    assert os.path.isdir(os.path.join(prefix, 'lib', 'humanoid_bringup'))


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('$(var missing)', "launch configuration 'missing' is not set (set here: sim)"),
        ('$(env NOT_SET_X)', "environment variable 'NOT_SET_X' is not set"),
        ('$(find-pkg-share no_such_pkg_x)', "package 'no_such_pkg_x' not found"),
        ('$(command ls)', "unsupported substitution '$(command ...)'"),
        ('$(var sim', "unterminated substitution '$(var'"),
        ("$(var 'sim)", 'unterminated'),
        ('$()', "expected a substitution name after '$('"),
        ('$(var)', '$(var ...) takes 1 argument(s), got 0'),
        ('$(var a b)', '$(var ...) takes 1 argument(s), got 2'),
        ('$(eval 1 + 2)', 'takes 1 argument, got 3: quote the expression'),
        ('$(dirname x)', 'takes 0 argument(s)'),
        ('$(eval \'__import__("os")\')', "unsupported function '__import__'"),
        ("$(eval '().__class__')", "unsupported attribute '().__class__'"),
        ("$(eval 'open')", "unknown name 'open'"),
        ("$(eval 'lambda: 1')", 'unsupported syntax'),
        ("$(eval '[x for x in (1, 2)]')", 'unsupported syntax'),
        ("$(eval '2 ** 100000')", 'exponent 100000 too large'),
        ('$(eval "\'a\' * 10000000")', 'result too long'),
        ("$(eval '1 +')", 'invalid expression'),
        ("$(eval '1 / 0')", 'ZeroDivisionError'),
    ],
)
def test_substitution_errors_name_the_problem_and_location(text: str, message: str) -> None:
    with pytest.raises(LaunchError) as info:
        substitute(text, ctx(sim='x'))
    assert str(info.value).startswith(f'{FILE}:7: ')
    assert message in str(info.value)


@pytest.mark.parametrize(
    ('value', 'expected'),
    [('true', True), ('True', True), ('TRUE', True), ('1', True), ('false', False),
     ('False', False), ('0', False), (' true ', True)],
)  # fmt: skip
def test_condition_truthiness(value: str, expected: bool) -> None:
    assert evaluate_condition(value) is expected


@pytest.mark.parametrize('value', ['yes', '', '2', 'on', 'none'])
def test_condition_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValueError, match='expected'):
        evaluate_condition(value)


def test_safe_eval_values() -> None:
    assert safe_eval('1 < 2 < 3') is True
    assert safe_eval('1 < 3 < 2') is False
    assert safe_eval("'a' + 'b'") == 'ab'
    assert safe_eval('-3 // 2') == -2
    assert safe_eval('[1, 2] + [3]') == [1, 2, 3]
    assert safe_eval('0 or 5') == 5
    assert safe_eval('1 and 0') == 0
    with pytest.raises(EvalError):
        safe_eval('x')
