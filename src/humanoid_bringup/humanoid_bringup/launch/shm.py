"""Finds and removes stale Fast DDS shared-memory files in /dev/shm.

Fast DDS (2.x ``fastrtps_*``, 3.x ``fastdds_*``) creates per participant a segment
``fastdds_<id>`` with a lock file ``fastdds_<id>_el``, and per listening port
``fastdds_port<N>``, ``fastdds_port<N>_el`` and the named semaphore
``sem.fastdds_port<N>_mutex``. A process that exits cleanly removes them; a killed one leaves
them behind. Port files are shared by every process on the same port, so a file is only stale
when no live process maps it or holds it open. We remove a group of files (same base name)
only if every file of it appeared during our launch, is owned by us, and no process we can
inspect (/proc/PID/maps and /proc/PID/fd) uses any file of the group.
"""

from __future__ import annotations

import os
import re

SHM_DIR = '/dev/shm'
_NAME_RE = re.compile(r'^(?:sem\.)?((?:fastdds|fastrtps)_.+?)(?:_el|_sl|_mutex)?$')


def _base(name: str) -> str | None:
    match = _NAME_RE.match(name)
    return match.group(1) if match else None


def snapshot(shm_dir: str = SHM_DIR) -> set[str]:
    """Names of the Fast DDS files in ``shm_dir`` now."""
    try:
        return {n for n in os.listdir(shm_dir) if _base(n) is not None}
    except OSError:
        return set()


def files_in_use(shm_dir: str = SHM_DIR) -> set[str]:
    """Names of files in ``shm_dir`` that some live process maps or has open."""
    used: set[str] = set()
    prefix = shm_dir.rstrip('/') + '/'
    try:
        pids = [p for p in os.listdir('/proc') if p.isdigit()]
    except OSError:
        return used
    for pid in pids:
        try:
            with open(f'/proc/{pid}/maps', encoding='utf-8', errors='replace') as f:
                for line in f:
                    idx = line.find(prefix)
                    if idx >= 0:
                        used.add(line[idx + len(prefix) :].split()[0])
        except OSError:
            pass
        try:
            fds = os.listdir(f'/proc/{pid}/fd')
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f'/proc/{pid}/fd/{fd}')
            except OSError:
                continue
            if target.startswith(prefix):
                used.add(target[len(prefix) :].split()[0])
    return used


def remove_stale(before: set[str], shm_dir: str = SHM_DIR) -> list[str]:
    """Removes the stale Fast DDS files that appeared since ``before`` (a :func:`snapshot`);
    returns the names removed."""
    now = snapshot(shm_dir)
    groups: dict[str, list[str]] = {}
    for name in now | before:
        base = _base(name)
        if base is not None:
            groups.setdefault(base, []).append(name)
    used_bases = {b for b in (_base(n) for n in files_in_use(shm_dir)) if b is not None}
    uid = os.getuid()
    removed: list[str] = []
    for base, names in sorted(groups.items()):
        if base in used_bases or any(n in before for n in names):
            continue
        for name in sorted(names):
            path = os.path.join(shm_dir, name)
            try:
                if os.lstat(path).st_uid != uid:
                    continue
                os.unlink(path)
                removed.append(name)
            except OSError:
                pass
    return removed
