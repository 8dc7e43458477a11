"""Running mmengine's distributed launchers on CPU-only machines."""

from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def prepare_launcher(cfg: Config, launcher: str) -> None:
    """Make ``launcher`` work on a machine without GPUs (gloo backend, CPU DDP).

    mmengine 0.10.7 assumes CUDA under the ``pytorch`` launcher: ``init_dist`` calls
    ``torch.cuda.set_device`` and ``Runner.wrap_model`` passes ``device_ids=[rank]``,
    which DDP rejects for CPU modules. Without CUDA this initialises the gloo
    process group here (the Runner then skips ``init_dist``) and wraps the model
    with ``device_ids=None``. With CUDA, or without a launcher, nothing changes.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} needs GPUs; on CPU use --launcher pytorch '
                         '(tools/dist_train.sh does)')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if 'timeout' in kwargs:
            kwargs['timeout'] = timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)


def start_launcher(cfg: Config, launcher: str) -> None:
    """Join the process group of ``launcher`` in a tool that runs without a Runner.

    :func:`prepare_launcher`, then mmengine's ``init_dist`` unless a group exists already
    (on CPU ``prepare_launcher`` has made it). Nothing happens for ``'none'``.
    """
    prepare_launcher(cfg, launcher)
    if launcher == 'none':
        return
    from mmengine.dist import init_dist, is_distributed
    if not is_distributed():
        init_dist(launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))


def close_launcher() -> None:
    """End a launched tool: wait for every rank, then destroy the process group.

    Left to interpreter shutdown, the gloo group's threads can be torn down while still
    joinable and abort a rank ("terminate called without an active exception") after its
    work is done, which fails the whole launch. Without a process group nothing happens.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
