"""``--cfg-options`` that name list items by their type instead of their position.

mmengine's ``Config.merge_from_dict`` reaches into lists by index only
(``train_dataloader.dataset.pipeline.1.cam_dir=DIR``), which silently changes meaning when a
pipeline gains a step. Every mmhfpl tool also accepts the item's type in place of the index,
``train_dataloader.dataset.pipeline.LoadCAMFromFile.cam_dir=DIR``,
``custom_hooks.QUpdateHook.q_file=Q`` or ``param_scheduler.PhasePolyLR.phase_iters=100``:
a path segment that starts with an upper-case letter selects every item of that list whose
``type`` is that name (with or without a scope prefix such as ``mmhfpl.``). A name that
matches no item is an error naming the key and the types present.

Shortening or lengthening a run with ``train_cfg.max_iters`` (``max_epochs``) alone leaves
the schedulers on the old length (a ``PolyLR`` with ``end=300`` in a 100-iteration run
stops a third of the way down its decay). Such an override is an error that names the
scheduler and the option to add (``param_scheduler.PolyLR.end=100``).
"""

from collections.abc import Mapping
from typing import Any

from mmengine.config import Config


def _type_name(item: Any) -> str | None:
    if not isinstance(item, Mapping) or not isinstance(item.get('type'), str):
        return None
    return item['type'].rsplit('.', 1)[-1]


def _assign(node: Any, parts: list[str], value: Any, key: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head.isdigit():
            targets = [node[int(head)]]
        else:
            targets = [item for item in node if _type_name(item) == head]
            if not targets:
                present = sorted({name for item in node if (name := _type_name(item))})
                raise KeyError(f'--cfg-options {key}: no item of type {head!r} in that list '
                               f'(types present: {present})')
        if not rest:
            raise KeyError(f'--cfg-options {key}: a list item needs a field to set')
        for target in targets:
            _assign(target, rest, value, key)
        return
    if not isinstance(node, Mapping):
        raise KeyError(f'--cfg-options {key}: {head!r} is set on a {type(node).__name__}')
    if not rest:
        node[head] = value
        return
    if head not in node:
        raise KeyError(f'--cfg-options {key}: the config has no {head!r} there')
    _assign(node[head], rest, value, key)


def _check_schedule(cfg: Config, options: Mapping[str, Any]) -> None:
    """Refuse a new training length whose schedulers still end at the old one."""
    length_keys = [key for key in options if key in ('train_cfg.max_iters',
                                                     'train_cfg.max_epochs')]
    if not length_keys or any(key.startswith('param_scheduler') for key in options):
        return
    train_cfg = cfg.get('train_cfg') or {}
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, Mapping):
        schedulers = [schedulers]
    for by_epoch, length_key in ((False, 'max_iters'), (True, 'max_epochs')):
        length = train_cfg.get(length_key)
        timed = [s for s in schedulers if isinstance(s, Mapping) and 'end' in s
                 and bool(s.get('by_epoch', True)) == by_epoch]
        if length is None or not timed:
            continue
        last = max(timed, key=lambda s: s['end'])
        if last['end'] != length:
            name = _type_name(last) or 'the scheduler'
            raise ValueError(
                f'--cfg-options {length_keys[0]}={options[length_keys[0]]}, but '
                f'param_scheduler {name} still ends at {last["end"]}: the schedule would not '
                f'follow the new length. Also set param_scheduler.{name}.end={length} (and '
                'any other scheduler bounds you mean to change).')


def merge_cfg_options(cfg: Config, options: Mapping[str, Any] | None) -> None:
    """Merge ``--cfg-options`` into ``cfg``; list items may be named by type (module doc)."""
    if not options:
        return
    plain = {}
    for key, value in options.items():
        parts = key.split('.')
        if any(part[:1].isupper() for part in parts[:-1]):
            _assign(cfg._cfg_dict, parts, value, key)
        else:
            plain[key] = value
    if plain:
        cfg.merge_from_dict(plain)
    _check_schedule(cfg, options)
