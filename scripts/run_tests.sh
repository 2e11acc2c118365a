#!/usr/bin/env bash
# Runs the pytest suite over the workspace with loopback-only DDS discovery, a unique
# ROS_DOMAIN_ID and logs inside the workspace. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# A domain per run (1..100) unless the caller chose one: parallel runs on one machine don't mix.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( ($$ % 100) + 1 ))}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$ROOT/log/ros}"
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-$MUJOCO_GL}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PYTHONDONTWRITEBYTECODE=1
echo "[test] ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE MUJOCO_GL=$MUJOCO_GL"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
