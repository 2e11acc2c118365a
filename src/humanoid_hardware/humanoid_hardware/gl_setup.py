"""Choose MuJoCo's OpenGL backend before `mujoco` is imported.

MuJoCo reads `MUJOCO_GL` when it is imported. Headless runs want EGL (fast, Mesa llvmpipe
here) and fall back to OSMesa when EGL cannot initialise; a GUI run with a display keeps GLFW.
"""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = 'import mujoco; c = mujoco.GLContext(16, 16); c.make_current(); c.free()'


def _probe(backend: str, timeout: float = 60.0) -> bool:
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        done = subprocess.run(
            [sys.executable, '-c', _PROBE], env=env, capture_output=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def setup_gl(headless: bool = True) -> str:
    """Set MUJOCO_GL (and PYOPENGL_PLATFORM) unless already set; returns the backend in use.

    An explicit MUJOCO_GL wins. Headless: 'egl' if an EGL context can be made, else 'osmesa'.
    With a display and `headless` False: 'glfw'."""
    chosen = os.environ.get('MUJOCO_GL')
    if not chosen:
        if 'mujoco' in sys.modules:
            # Too late to choose: mujoco already read the (unset) variable.
            return 'glfw'
        if not headless and os.environ.get('DISPLAY'):
            chosen = 'glfw'
        elif _probe('egl'):
            chosen = 'egl'
        else:
            chosen = 'osmesa'
        os.environ['MUJOCO_GL'] = chosen
    if chosen in ('egl', 'osmesa'):
        os.environ.setdefault('PYOPENGL_PLATFORM', chosen)
    return chosen
