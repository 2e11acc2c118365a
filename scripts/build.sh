#!/usr/bin/env bash
# Rebuild the colcon workspace only (no apt/pip). Arguments go to `colcon build`, e.g.
#   scripts/build.sh --packages-select humanoid_hardware
# Needed after adding packages, console_scripts entry points, data files or interfaces;
# plain Python edits are live thanks to --symlink-install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export AMENT_PREFIX_PATH="$ROOT/.venv" VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH"
unset PYTHONPATH
exec "$ROOT/.venv/bin/colcon" --log-base "$ROOT/log/colcon" build --merge-install \
  --symlink-install --event-handlers console_direct- console_stderr+ summary+ "$@"
