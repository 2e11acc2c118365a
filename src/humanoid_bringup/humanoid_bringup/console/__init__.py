"""`humanoid console`: the operator web console (FastAPI + websockets).

Serves one page on http://127.0.0.1:8080 by default: instruction box, live head camera,
objects, the proposed plan with Approve / Reject, progress, result, task history and an
always-visible E-STOP. Access needs a token: a random one is printed at start unless
`--token`, `--token-file` or `$HUMANOID_CONSOLE_TOKEN` gives one; binding to a non-loopback
address is refused without an explicitly configured token.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
import secrets
import sys

__all__ = ['build_parser', 'main', 'resolve_token']

TOKEN_ENV = 'HUMANOID_CONSOLE_TOKEN'


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid console',
        description='Serve the operator web console (task entry, plan approval, camera, '
        'E-STOP, history).',
    )
    p.add_argument('--host', default='127.0.0.1', help='address to bind (default: 127.0.0.1)')
    p.add_argument('--port', type=int, default=8080, help='TCP port (default: 8080)')
    p.add_argument(
        '--token',
        default=None,
        help=f'access token (default: ${TOKEN_ENV}, --token-file, else a random one)',
    )
    p.add_argument('--token-file', type=Path, default=None, help='read the token from a file')
    p.add_argument('--namespace', default='', help='robot namespace, e.g. robot1')
    p.add_argument(
        '--camera-hz',
        type=float,
        default=5.0,
        help='camera frames per second sent to browsers (default: 5; 0 = none)',
    )
    return p


def is_loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(args: argparse.Namespace) -> tuple[str, bool]:
    """The access token and whether it was configured (False: generated at random).

    Raises:
        ValueError: an empty or unreadable configured token.
    """
    if args.token is not None:
        token, source = args.token.strip(), '--token'
    elif args.token_file is not None:
        try:
            token, source = args.token_file.read_text().strip(), str(args.token_file)
        except OSError as exc:
            raise ValueError(f'cannot read --token-file {args.token_file}: {exc}') from exc
    elif os.environ.get(TOKEN_ENV):
        token, source = os.environ[TOKEN_ENV].strip(), f'${TOKEN_ENV}'
    else:
        return secrets.token_urlsafe(18), False
    if len(token) < 8:
        raise ValueError(f'the token from {source} is shorter than 8 characters; use a longer one')
    return token, True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        token, configured = resolve_token(args)
    except ValueError as exc:
        print(f'humanoid console: {exc}', file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not configured:
        print(
            f'humanoid console: refusing to bind {args.host} (reachable from other machines) '
            'without a configured token. Fix: pass --token SECRET (or --token-file FILE, or set '
            f'${TOKEN_ENV}), or bind 127.0.0.1 and use an SSH tunnel.',
            file=sys.stderr,
        )
        return 2
    if not 0 < args.port < 65536:
        print(
            f'humanoid console: --port {args.port} is not a TCP port (1..65535)', file=sys.stderr
        )
        return 2

    import uvicorn

    from humanoid_bringup.console.app import Hub, create_app
    from humanoid_bringup.console.bridge import ConsoleBridge

    hub = Hub()
    bridge = ConsoleBridge(hub.emit, namespace=args.namespace, camera_hz=args.camera_hz)
    bridge.start()
    app = create_app(bridge, token, hub)
    shown = 'localhost' if args.host in ('127.0.0.1', '::1') else args.host
    print(f'humanoid console: open http://{shown}:{args.port}/?token={token}', flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level='warning')
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        bridge.shutdown()
    return 0 if server.started else 1
