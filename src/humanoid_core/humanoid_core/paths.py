"""Locate the workspace's data folders (`urdf/`, `config/`, `launch/`).

Order: `$HUMANOID_WORKSPACE` (a folder holding them) if set; then the source checkout this
module is imported from (a repository root with `urdf/` and `config/` above this file: plain
pytest runs and `--symlink-install` builds, where the source files are the live ones and the
installed share only lists the files present at the last build); then the installed
`humanoid_bringup` share directory (ament index; deployed installs). No rclpy needed.
"""

from __future__ import annotations

from functools import lru_cache
import os
from pathlib import Path

__all__ = ['config_dir', 'data_root', 'launch_dir', 'urdf_dir', 'urdf_file']

_PACKAGE = 'humanoid_bringup'
_FOLDERS = ('urdf', 'config', 'launch')


def _installed_share() -> Path | None:
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        return None
    try:
        share = Path(get_package_share_directory(_PACKAGE))
    except (PackageNotFoundError, LookupError, ValueError):
        return None
    return share if (share / 'urdf').is_dir() else None


def _source_root() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / 'urdf').is_dir() and (parent / 'config').is_dir():
            return parent
    return None


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The folder holding `urdf/`, `config/` and `launch/` (see the module docstring).

    Raises:
        FileNotFoundError: neither an installed `humanoid_bringup` share nor a source tree with
            a `urdf/` folder was found.
    """
    env = os.environ.get('HUMANOID_WORKSPACE')
    if env:
        if not (Path(env) / 'urdf').is_dir():
            raise FileNotFoundError(f'HUMANOID_WORKSPACE={env} has no urdf/ folder')
        return Path(env)
    root = _source_root() or _installed_share()
    if root is None:
        raise FileNotFoundError(
            f'cannot find the workspace data folders {_FOLDERS}: no source tree above '
            f'{__file__} and no installed {_PACKAGE!r} share directory (ament index)'
        )
    return root


def urdf_dir() -> Path:
    """The `urdf/` folder."""
    return data_root() / 'urdf'


def config_dir() -> Path:
    """The `config/` folder."""
    return data_root() / 'config'


def launch_dir() -> Path:
    """The `launch/` folder."""
    return data_root() / 'launch'


def urdf_file(name: str = 'humanoid.urdf.xacro') -> Path:
    """A file in `urdf/`; raises FileNotFoundError naming the folder if it is missing."""
    path = urdf_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f'no robot description {name!r} in {urdf_dir()}')
    return path
