"""A pickle-free cache of a dataset's file scan: verified files and their image labels.

Building a :class:`~mmhfpl.datasets.WSSSSegDataset` decodes every listed image in full (a
truncated JPEG is found before training, not hours into it) and reads every mask to derive
the image-level labels. That costs seconds per thousand images, on every build. The result
of each entry is cached in one JSON file next to the list file (or, where that directory
is not writable, under ``$MMHFPL_CACHE/scan`` or ``~/.cache/mmhfpl/scan``), keyed by the
dataset settings that change the labels; an entry is reused only while the size and
modification time of every file it read are unchanged, so an edited, replaced or truncated
file is checked again. The file is written atomically.
"""

import hashlib
import json
import os
import os.path as osp
from collections.abc import Sequence

from mmengine.logging import print_log

from mmhfpl.structures import atomic_save

#: Bumped when the meaning of a cached entry changes (e.g. a stricter check).
CACHE_VERSION = 1


def file_stamp(path: str) -> list[int]:
    """``[size, mtime_ns]`` of a file (what makes a cached entry stale)."""
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def _default_dir() -> str:
    root = os.environ.get('MMHFPL_CACHE') or osp.join(osp.expanduser('~'), '.cache', 'mmhfpl')
    return osp.join(root, 'scan')


class ScanCache:
    """Per-entry results of a dataset scan, reused while their files are unchanged.

    Args:
        ann_file: The dataset's list file.
        settings: Everything besides the files that changes an entry's result (class list,
            prefixes, label source, ignore index); part of the cache file name.
    """

    def __init__(self, ann_file: str, settings: dict) -> None:
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
        name = f'.{osp.basename(ann_file)}.{digest.hexdigest()[:16]}.scan.json'
        beside = osp.dirname(osp.abspath(ann_file))
        if not os.access(beside, os.W_OK):
            key = hashlib.sha256(osp.abspath(ann_file).encode()).hexdigest()[:16]
            beside = osp.join(_default_dir(), key)
        self.path = osp.join(beside, name)
        self.entries: dict[str, dict] = {}
        self.changed = False
        self._load()

    def _load(self) -> None:
        if not osp.isfile(self.path):
            return
        try:
            with open(self.path) as handle:
                content = json.load(handle)
        except (OSError, ValueError) as err:
            print_log(f'ignoring the unreadable dataset scan cache {self.path} ({err}); it '
                      'is rebuilt', logger='current')
            return
        if isinstance(content, dict) and content.get('version') == CACHE_VERSION:
            self.entries = content.get('entries', {})

    def get(self, key: str, paths: Sequence[str]) -> list | None:
        """The cached result of ``key`` if every file in ``paths`` is unchanged, else None."""
        entry = self.entries.get(key)
        if entry is None or entry.get('paths') != list(paths):
            return None
        try:
            if entry.get('stamps') != [file_stamp(p) for p in paths]:
                return None
        except OSError:
            return None
        return entry['result']

    def put(self, key: str, paths: Sequence[str], result: list) -> None:
        """Remember ``result`` for ``key`` with the current stamps of ``paths``."""
        self.entries[key] = dict(paths=list(paths), stamps=[file_stamp(p) for p in paths],
                                 result=result)
        self.changed = True

    def save(self, keep: Sequence[str] | None = None) -> None:
        """Write the cache (only the entries in ``keep`` when given); atomic, best effort."""
        if keep is not None:
            keep = set(keep)
            stale = [key for key in self.entries if key not in keep]
            for key in stale:
                del self.entries[key]
            self.changed = self.changed or bool(stale)
        if not self.changed:
            return
        text = json.dumps(dict(version=CACHE_VERSION, entries=self.entries))

        def write(tmp: str) -> None:
            with open(tmp, 'w') as handle:
                handle.write(text)

        try:
            atomic_save(write, self.path, '.json.tmp')
        except OSError as err:
            print_log(f'could not write the dataset scan cache {self.path} ({err}); the next '
                      'build scans again', logger='current')
            return
        self.changed = False
