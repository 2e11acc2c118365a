"""The ErrorCode enum mirrors humanoid_interfaces/action/ExecuteTask.action (contract)."""

from pathlib import Path
import re

from humanoid_core.planning import ErrorCode
import pytest

ACTION = (
    Path(__file__).resolve().parents[2] / 'humanoid_interfaces' / 'action' / 'ExecuteTask.action'
)


def test_error_codes_match_action_file():
    text = ACTION.read_text()
    result_section = text.split('---')[1]
    consts = re.findall(r'^\s*uint8\s+([A-Z_]+)\s*=\s*(\d+)', result_section, re.M)
    assert consts, 'no constants found in the ExecuteTask result'
    assert [(n, int(v)) for n, v in consts] == [(c.name, c.value) for c in ErrorCode]
    assert [c.name for c in ErrorCode] == [
        'SUCCESS',
        'INVALID_INSTRUCTION',
        'UNKNOWN_OBJECT',
        'AMBIGUOUS',
        'PLANNING_FAILED',
        'REJECTED',
        'EXECUTION_FAILED',
        'CANCELED',
        'ESTOPPED',
        'TIMEOUT',
    ]


def test_parse_codes():
    assert ErrorCode.parse('unknown_object') is ErrorCode.UNKNOWN_OBJECT
    assert ErrorCode.parse('Planning-Failed') is ErrorCode.PLANNING_FAILED
    assert ErrorCode.parse(5) is ErrorCode.REJECTED
    with pytest.raises(ValueError, match='valid codes: success'):
        ErrorCode.parse('oops')
