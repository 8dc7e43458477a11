"""Atomic file writing: a file appears complete under its name, or not at all.

Every writer of mmhfpl (CAM files, label PNGs, Q files, caches, converted weights) goes through
:func:`atomic_save`. The temporary file lives next to the target (same file system, so the
final ``os.replace`` is atomic) and is named ``.<stem>.<random><suffix>`` so that a killed run's
leftovers are recognisable (:func:`remove_temporaries`). ``tempfile.mkstemp`` creates
files readable by their owner only; the finished file gets the permissions of a file created
normally (``0o666`` minus the process umask), so teammates sharing an output directory can
read it.
"""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting, then restore at once
    os.umask(mask)
    return mask


def atomic_save(save: Callable[[str], None], path: str | os.PathLike, suffix: str) -> None:
    """Call ``save(tmp_path)`` and move the file to ``path`` only once it is complete.

    Args:
        save: Writes the whole file to the path it is given.
        path: Final path; missing parent directories are created.
        suffix: Suffix of the temporary file (e.g. ``'.npz.tmp'``); some writers pick the
            format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.stem}.', suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_temporaries(directory: str | os.PathLike, suffix: str) -> int:
    """Delete the temporary files (``.*<suffix>``) a killed run left; return how many."""
    removed = 0
    for tmp in Path(directory).glob(f'.*{suffix}'):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed
