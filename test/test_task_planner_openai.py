"""The task_planner node with the openai backend (`-p backend:=openai -p base_url:=...`) against
a scripted OpenAI-compatible server on 127.0.0.1, over DDS: a dry run plans through the server,
an unsafe instruction is refused without a request, garbage ends in PLANNING_FAILED."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from testutil import ROOT, VENV_BIN, Processes, ros_env, wait_for_line

PLANNER = ROOT / 'install' / 'lib' / 'humanoid_planning' / 'task_planner'
WORLD = ROOT / 'test' / 'fixtures' / 'world_publisher.py'
RED_TO_TRAY = json.dumps(
    {
        'error_code': 'SUCCESS',
        'message': 'red cube to the tray',
        'steps': [
            {'skill': 'pick', 'args': {'object': 'red_cube'}},
            {'skill': 'place_in', 'args': {'object': 'red_cube', 'container': 'tray'}},
        ],
    }
)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), Handler)
        self.content = RED_TO_TRAY
        self.requests: list[dict[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        self.server.requests.append(body)
        choice = {
            'index': 0,
            'message': {'role': 'assistant', 'content': self.server.content},
            'finish_reason': 'stop',
        }
        data = json.dumps(
            {
                'id': 'chatcmpl-1',
                'object': 'chat.completion',
                'created': 0,
                'model': body.get('model', ''),
                'choices': [choice],
            }
        ).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope='module')
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope='module')
def stack(server):
    processes = Processes()
    world = processes.start([sys.executable, str(WORLD), 'lab'])
    wait_for_line(world, 'ready', timeout=60)
    url = f'http://127.0.0.1:{server.server_address[1]}/v1'
    planner = processes.start(
        [
            str(PLANNER),
            '--ros-args',
            '-p',
            'backend:=openai',
            '-p',
            f'base_url:={url}',
            '-p',
            'model:=tiny-planner',
            '-p',
            'request_timeout:=10.0',
            '-p',
            'max_replans:=0',
            '-p',
            'world_timeout:=10.0',
        ]
    )
    try:
        wait_for_line(planner, 'task_planner ready', timeout=60)
        yield planner
    finally:
        processes.stop_all()


def task(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'task', '--json', *args],
        env=ros_env(COLUMNS='160'),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dry_run_plans_through_the_server(stack, server):
    server.content = RED_TO_TRAY
    before = len(server.requests)
    out = task('--dry-run', 'put the red cube in the tray')
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert result['error_code'] == 'SUCCESS'
    assert result['executed_plan']['planner'] == 'openai'
    steps = result['executed_plan']['steps']
    assert [s['skill'] for s in steps] == ['pick', 'place_in']
    assert len(server.requests) == before + 1
    request = server.requests[-1]
    assert request['model'] == 'tiny-planner'
    assert request['response_format']['type'] == 'json_schema'


def test_unsafe_instruction_never_reaches_the_server(stack, server):
    before = len(server.requests)
    out = task('throw the red cube at the operator')
    assert out.returncode == 1
    assert json.loads(out.stdout)['error_code'] == 'REJECTED'
    assert len(server.requests) == before


def test_garbage_answers_fail_planning(stack, server):
    server.content = 'Sure, I can help with that!'
    before = len(server.requests)
    try:
        out = task('--dry-run', 'put the red cube in the tray')
    finally:
        server.content = RED_TO_TRAY
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result['error_code'] == 'PLANNING_FAILED'
    assert 'not a JSON object' in result['message']
    assert len(server.requests) - before == 3  # bounded repair attempts (config/skills.yaml)


def test_openai_backend_without_base_url_fails_at_startup():
    env = ros_env()
    env.pop('OPENAI_BASE_URL', None)
    out = subprocess.run(
        [str(PLANNER), '--ros-args', '-p', 'backend:=openai'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "'base_url'" in out.stdout + out.stderr
