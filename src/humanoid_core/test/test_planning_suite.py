"""Task-suite loader, symbolic executor, ProgPrompt metrics, and the plan benchmark."""

import json

from humanoid_core.planning import (
    ConfigError,
    EmbeddedPlanner,
    ErrorCode,
    Plan,
    SkillRegistry,
    load_suite,
    run_task,
    summarize,
)
from humanoid_core.planning.bench import main as bench_main
from humanoid_core.planning.suite import Task, evaluate_task, parse_predicate, suite_from_dict
from humanoid_core.world import find_config, initial_world
import pytest
import yaml

LAB_SUITE = find_config('suites/lab.yaml')


@pytest.fixture(scope='module')
def reg() -> SkillRegistry:
    return SkillRegistry.from_yaml()


@pytest.fixture(scope='module')
def lab():
    return initial_world('lab')


def test_lab_suite_loads_and_covers_the_categories():
    suite = load_suite(LAB_SUITE)
    assert suite.scene == 'lab' and len(suite.tasks) >= 60
    expects = {t.expect for t in suite.tasks}
    assert {
        ErrorCode.SUCCESS,
        ErrorCode.UNKNOWN_OBJECT,
        ErrorCode.AMBIGUOUS,
        ErrorCode.REJECTED,
        ErrorCode.INVALID_INSTRUCTION,
    } <= expects
    assert len({t.id for t in suite.tasks}) == len(suite.tasks)
    same_goal = [t for t in suite.tasks if t.goal and str(t.goal[0]) == 'in(red_cube, tray)']
    assert len(same_goal) >= 5  # paraphrases
    assert any('bin' in str(g) for t in suite.tasks for g in t.goal)  # walking needed


def write(tmp_path, data) -> str:
    (tmp_path / 'scenes').mkdir(exist_ok=True)
    (tmp_path / 'scenes' / 'lab.yaml').write_text(find_config('scenes/lab.yaml').read_text())
    (tmp_path / 'suites').mkdir(exist_ok=True)
    path = tmp_path / 'suites' / 'x.yaml'
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(path)


@pytest.mark.parametrize(
    ('data', 'fragment'),
    [
        (
            {'tasks': [{'id': 'a', 'instruction': 'x', 'goal': [{'in': ['red_cube', 'tray']}]}]},
            '`scene` must name a scene',
        ),
        (
            {'scene': 'moon', 'tasks': [{'id': 'a', 'instruction': 'x', 'expect': 'rejected'}]},
            "scene 'moon' not found",
        ),
        ({'scene': 'lab', 'tasks': []}, '`tasks` must be a non-empty list'),
        ({'scene': 'lab', 'tasks': [{'instruction': 'x'}]}, 'tasks[0]: missing `id`'),
        (
            {'scene': 'lab', 'tasks': [{'id': 'a', 'instruction': 'x', 'expect': 'oops'}]},
            "task 'a': expect: unknown error code 'oops'",
        ),
        ({'scene': 'lab', 'tasks': [{'id': 'a', 'instruction': 'x'}]}, 'needs a `goal`'),
        (
            {
                'scene': 'lab',
                'tasks': [{'id': 'a', 'instruction': 'x', 'goal': [{'inside': ['a', 'b']}]}],
            },
            "unknown predicate 'inside'",
        ),
        (
            {
                'scene': 'lab',
                'tasks': [{'id': 'a', 'instruction': 'x', 'goal': [{'in': ['red_cube']}]}],
            },
            'in takes a list of 2',
        ),
        (
            {
                'scene': 'lab',
                'tasks': [
                    {'id': 'a', 'instruction': 'x', 'goal': [{'in': ['red_cube', 'bench']}]}
                ],
            },
            "'bench' is not a known container",
        ),
        (
            {
                'scene': 'lab',
                'tasks': [{'id': 'a', 'instruction': 'x', 'goal': [{'holding': ['ufo']}]}],
            },
            "'ufo' is not a known object",
        ),
        (
            {
                'scene': 'lab',
                'tasks': [
                    {'id': 'a', 'instruction': 'x', 'expect': 'rejected'},
                    {'id': 'a', 'instruction': 'y', 'expect': 'rejected'},
                ],
            },
            "task 'a': duplicate id",
        ),
        (
            {
                'scene': 'lab',
                'tasks': [{'id': 'a', 'instruction': 'x', 'expect': 'rejected', 'gaol': []}],
            },
            'unknown key(s) gaol',
        ),
        ('scene: lab\ntasks: [\n', 'invalid YAML'),
    ],
)
def test_suite_loader_errors(tmp_path, data, fragment):
    with pytest.raises(ConfigError) as err:
        load_suite(write(tmp_path, data))
    assert fragment in str(err.value)
    assert 'x.yaml' in str(err.value)


def test_predicates(lab, reg):
    from humanoid_core.planning import apply_step

    w = apply_step(reg.step('pick', 'red_cube'), lab, reg)
    assert parse_predicate({'holding': ['red_cube']}, 'g', lab).holds(w)
    assert parse_predicate({'near': ['robot', 'bench']}, 'g', lab).holds(w)
    assert parse_predicate({'not': {'on': ['red_cube', 'bench']}}, 'g', lab).holds(w)
    assert not parse_predicate({'not': {'holding': ['red_cube']}}, 'g', lab).holds(w)
    # YAML 1.1 reads a bare `on` key as True: still the `on` predicate.
    assert parse_predicate({True: ['blue_cube', 'bench']}, 'g', lab).holds(w)


def hand_plan(reg, *steps) -> Plan:
    return Plan(tuple(reg.step(n, *a) for n, *a in steps), 'hand')


def test_metrics_on_hand_made_plans(reg, lab):
    task = Task(
        'two',
        'red to tray, green to bin',
        (
            parse_predicate({'in': ['red_cube', 'tray']}, 'g', lab),
            parse_predicate({'in': ['green_cube', 'bin']}, 'g', lab),
        ),
    )
    # Complete, valid plan: success, Exec 1, GCR 1.
    full = hand_plan(
        reg,
        ('pick', 'red_cube'),
        ('place_in', 'red_cube', 'tray'),
        ('pick', 'green_cube'),
        ('walk_to', 'station'),
        ('place_in', 'green_cube', 'bin'),
    )
    r = evaluate_task(task, lab, reg, ErrorCode.SUCCESS, full)
    assert (r.success, r.exec, r.gcr) == (True, 1.0, 1.0)
    # Valid plan reaching one of two goals: GCR 0.5, Exec 1, no success.
    half = hand_plan(reg, ('pick', 'red_cube'), ('place_in', 'red_cube', 'tray'))
    r = evaluate_task(task, lab, reg, ErrorCode.SUCCESS, half)
    assert (r.success, r.exec, r.gcr) == (False, 1.0, 0.5)
    assert r.failed_goals == ['in(green_cube, bin)']
    # Invalid plan (forgot to walk): 4 of 5 steps executable, and it is never executed.
    nowalk = hand_plan(
        reg,
        ('pick', 'red_cube'),
        ('place_in', 'red_cube', 'tray'),
        ('pick', 'green_cube'),
        ('place_in', 'green_cube', 'bin'),
        ('wait', 1),
    )
    r = evaluate_task(task, lab, reg, ErrorCode.PLANNING_FAILED, nowalk)
    assert r.exec == pytest.approx(4 / 5) and r.gcr == 0.0 and not r.success
    # Expected refusal: success only with that code and nothing moved.
    neg = Task('neg', 'put the cube in the tray', (), ErrorCode.AMBIGUOUS)
    assert evaluate_task(neg, lab, reg, ErrorCode.AMBIGUOUS, None).success
    assert evaluate_task(neg, lab, reg, ErrorCode.AMBIGUOUS, None).exec is None
    assert not evaluate_task(neg, lab, reg, ErrorCode.UNKNOWN_OBJECT, None).success
    assert not evaluate_task(neg, lab, reg, ErrorCode.SUCCESS, half).success
    results = [
        evaluate_task(task, lab, reg, ErrorCode.SUCCESS, full),
        evaluate_task(task, lab, reg, ErrorCode.SUCCESS, half),
        evaluate_task(task, lab, reg, ErrorCode.PLANNING_FAILED, nowalk),
        evaluate_task(neg, lab, reg, ErrorCode.AMBIGUOUS, None),
    ]
    overall = summarize(results)
    assert overall['SR'] == pytest.approx(2 / 4)
    assert overall['GCR'] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert overall['Exec'] == pytest.approx((1 + 1 + 0.8) / 3)  # tasks with a plan only
    assert overall['tasks'] == 4 and overall['tasks_with_plan'] == 3


def test_run_task_with_embedded_planner(reg, lab):
    suite = suite_from_dict(
        {
            'scene': 'lab',
            'tasks': [
                {
                    'id': 'ok',
                    'instruction': 'take the green cube to the bin',
                    'goal': [{'in': ['green_cube', 'bin']}, {'near': ['robot', 'station']}],
                },
                {'id': 'amb', 'instruction': 'put the cube in the tray', 'expect': 'ambiguous'},
            ],
        },
        base_dir=LAB_SUITE.parent,
    )
    results = [run_task(t, EmbeddedPlanner(), lab, reg) for t in suite.tasks]
    assert [r.success for r in results] == [True, True]
    assert results[0].exec == 1.0 and len(results[0].plan.steps) == 3
    assert results[1].code == ErrorCode.AMBIGUOUS and results[1].plan is None


def test_bench_plan_on_the_lab_suite(tmp_path, capsys):
    out = tmp_path / 'plan.json'
    rc = bench_main(['--suite', str(LAB_SUITE), '--json', str(out), '--seed', '1', '--quiet'])
    assert rc == 0
    data = json.loads(out.read_text())
    overall = data['overall']
    for key in ('SR', 'Exec', 'GCR', 'planner_latency_ms_median'):
        assert 0.0 <= overall[key] <= (1.0 if key != 'planner_latency_ms_median' else 1e6)
    suite = load_suite(LAB_SUITE)
    assert [t['id'] for t in data['tasks']] == [t.id for t in suite.tasks]
    failed = [(t['id'], t['code'], t['message']) for t in data['tasks'] if not t['success']]
    assert overall['SR'] >= 0.95, failed
    assert 'SR ' in capsys.readouterr().out


def test_bench_bad_arguments(tmp_path, capsys):
    assert bench_main(['--suite', str(tmp_path / 'missing.yaml'), '--quiet']) == 2
    assert bench_main(['--suite', str(LAB_SUITE), '--planner', 'nope', '--quiet']) == 2
    assert 'unknown planner' in capsys.readouterr().err
