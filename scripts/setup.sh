#!/usr/bin/env bash
# Idempotent workspace setup: apt packages, .venv, pinned Python deps, the two ROS-wheel fixes,
# colcon build, and the hook that makes the workspace usable from the venv without sourcing.
#
# Every step prints its name; a failure says which step failed. A second run with nothing
# changed takes a few seconds (stamps under .venv/.stamps).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMPS="$VENV/.stamps"
PY="${PYTHON:-python3.11}"
STEP="(none)"

step() {
  STEP="$1"
  printf '\033[1m[setup] %s\033[0m\n' "$1"
}
trap 'rc=$?; if [ $rc -ne 0 ]; then printf "\033[31m[setup] FAILED in step: %s (exit %d)\033[0m\n" "$STEP" "$rc" >&2; fi' EXIT

# ---------------------------------------------------------------------------------------------
step "apt packages"
APT_PKGS=(cmake g++ make git libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libglfw3 libusb-1.0-0 libgomp1 chromium)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "  installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "  all present"
fi

# ---------------------------------------------------------------------------------------------
step "python venv (.venv)"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "  $PY not found; this workspace needs CPython 3.11 (the ROS 2 Kilted wheels are cp311)." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  echo "  created $VENV"
else
  echo "  exists"
fi
mkdir -p "$STAMPS"

# ---------------------------------------------------------------------------------------------
step "python dependencies (requirements/*.txt)"
REQ_HASH="$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMPS/requirements" 2>/dev/null)" != "$REQ_HASH" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade "pip<27" 2>&1 | grep -v '^WARNING: Location' || true
  # torch is pinned in the same command so nothing pulls a CUDA build.
  "$VENV/bin/python" -m pip install -q --progress-bar off -r requirements/all.txt 2>&1 \
    | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip install -q --progress-bar off --no-deps -r requirements/nodeps.txt \
    2>&1 | grep -v '^WARNING: Location' || true
  # pip's exit status is hidden by the grep above: verify the key imports instead.
  "$VENV/bin/python" -c 'import rclpy, mujoco, xacro, yaml, rich, pydantic, pytest, xgrammar, openai' \
    || { echo "  dependency install failed (see pip output above)" >&2; exit 1; }
  echo "$REQ_HASH" > "$STAMPS/requirements"
else
  echo "  up to date"
fi

# ---------------------------------------------------------------------------------------------
step "ROS wheel fixes (CMake paths of the build machine's Python)"
# Fix 2 of PLATFORM.md: the wheels' CMake exports point at /opt/python/cp311-cp311.
PY_INC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("include"))')"
NP_INC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
files="$(grep -rl '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true)"
if [ -n "$files" ]; then
  # shellcheck disable=SC2086
  sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${NP_INC}#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#${PY_INC}#g" \
    $files
  echo "  rewrote $(echo "$files" | wc -l) files"
else
  echo "  already fixed"
fi

# ---------------------------------------------------------------------------------------------
step "colcon build"
# Fix 1 of PLATFORM.md: the venv root is an ament prefix.
export AMENT_PREFIX_PATH="$VENV"
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
unset PYTHONPATH
BUILD_LOG="$ROOT/log/setup-colcon.log"
mkdir -p "$ROOT/log"
if ! "$VENV/bin/colcon" --log-base "$ROOT/log/colcon" build --merge-install --symlink-install \
    --event-handlers console_direct- console_stderr- summary+ >"$BUILD_LOG" 2>&1; then
  tail -40 "$BUILD_LOG" >&2
  echo "  colcon build failed; full log: $BUILD_LOG" >&2
  exit 1
fi
grep -E 'Summary|packages? finished|failed' "$BUILD_LOG" | sed 's/^/  /' || true

# ---------------------------------------------------------------------------------------------
step "workspace hook (no sourcing needed)"
"$VENV/bin/python" "$ROOT/scripts/install_workspace_hook.py" "$ROOT" "$VENV"

trap - EXIT
printf '\033[32m[setup] done\033[0m\n'
