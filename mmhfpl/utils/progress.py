"""Progress of long loops: mmengine's ``ProgressBar``, ended with a newline."""

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from mmengine.utils import ProgressBar

T = TypeVar('T')


def track(items: Iterable[T], total: int, enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while an mmengine ``ProgressBar`` counts them (``total`` expected).

    mmengine's bar leaves the cursor on its line, so the next log line would be glued to it;
    this ends the line once the loop is over (also when it stops early). With
    ``enabled=False`` (other ranks, tests) the items pass through silently.
    """
    if not enabled or total <= 0:
        yield from items
        return
    bar = ProgressBar(total, file=sys.stdout)  # today's stdout (redirections apply)
    try:
        for item in items:
            yield item
            bar.update()
    finally:
        bar.file.write('\n')
        bar.file.flush()
