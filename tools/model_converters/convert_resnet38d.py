"""Convert the MXNet ImageNet weights of ResNet38d to an mmengine checkpoint (no mxnet needed).

Example:
    python tools/model_converters/convert_resnet38d.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params checkpoints/resnet38d_ilsvrc.pth

Reads the MXNet NDArray list file directly (format and name mapping below) and writes
``{'state_dict': ..., 'meta': ...}`` atomically. Keys are bare (``conv1a.weight``,
``b2.bn_branch2a.weight``, ...) unless ``--prefix`` is given; load them with
``init_cfg=dict(type='Pretrained', checkpoint=OUT[, prefix=PREFIX])`` on ``ResNet38d``.
The ImageNet classifier (``linear1000_*``) is dropped.

Read MXNet ``.params`` files without mxnet and convert the ResNet38d ImageNet weights.

The ImageNet weights of ResNet38d (model A1 of "Wider or Deeper", file
``ilsvrc-cls_rna-a1_cls1000_ep-0001.params``) are an MXNet NDArray list as written by
``mx.nd.save`` / ``mx.model.save_checkpoint``. This module parses that binary format
directly (nothing is unpickled, mxnet is not needed) and maps the names onto
:class:`~mmhfpl.models.backbones.resnet38d.ResNet38d`.

File format (all integers little-endian)
----------------------------------------
* list header: ``uint64`` magic ``0x112`` (``kMXAPINDArrayListMagic``), ``uint64``
  reserved; ``uint64`` number of arrays, the arrays, ``uint64`` number of names (0 or
  the number of arrays), then per name ``uint64`` byte length + the bytes (UTF-8);
  ``save_checkpoint`` prefixes names with ``arg:`` (weights) or ``aux:`` (BN moving
  statistics).
* one array, by its leading ``uint32``:

  - ``0xF993FAC9`` (V2) or ``0xF993FACA`` (V3, NumPy-shape semantics): ``int32``
    storage type (0 dense; 1 row-sparse and 2 CSR are rejected), shape as ``int32``
    ndim + ndim ``int64`` dims (V2: ndim 0 = empty array; V3: ndim -1 = empty, 0 =
    scalar);
  - ``0xF993FAC8`` (V1): shape as ``int32`` ndim + ``int64`` dims, no storage type;
  - anything else (legacy, MXNet before V1): that ``uint32`` is ndim, followed by
    ndim ``uint32`` dims;

  then (unless empty) the context (``int32`` device type, ``int32`` device id), the
  ``int32`` type flag (mshadow: 0 float32, 1 float64, 2 float16, 3 uint8, 4 int32,
  5 int8, 6 int64) and the C-order data. float32/float64/float16 are read; other type
  flags are rejected as unsupported, as are empty and sparse arrays.

Verified against stored copies of public sources:
``src/ndarray/ndarray.cc`` of apache/mxnet (``NDArray::Save`` / ``Load`` /
``LegacyLoad`` / ``LegacyTShapeLoad``, the V1/V2/V3 magics, ``kMXAPINDArrayListMagic``
and the list ``Save``/``Load``), ``include/mxnet/tuple.h`` (``Tuple::Save`` writes the
``int`` ndim then the ``int64`` ``dim_t`` values), ``Context::Save`` (``dev_type`` then
``int32`` ``dev_id``), dmlc-core ``serializer.h`` (``std::vector``: ``uint64`` count then
the elements; ``std::string``: ``uint64`` length then the bytes), and the type flags
from mxnet-cpp's example enum "aligned with the definition in mshadow/base.h" and
Netron's MXNet reader (element sizes 4, 8, 2, 1, 4, 1, 8 for flags 0-6). The parameter
names come from the authors' symbol code (itijyou/ademxapp ``util/symbol/symbol.py``:
``{name}_weight``, BN ``{name}_gamma`` / ``_beta`` with MXNet's ``_moving_mean`` /
``_moving_var`` aux states; ``util/symbol/resnet_v2.py``: ``conv1a``, ``res{S}a`` /
``res{S}b{k}`` blocks, ``bn7``, ``linear1000``) and agree with AffinityNet's
``convert_mxnet_to_torch``. Not verified: the bytes of the actual ImageNet file, which
is not available here (being an early MXNet file it may use the legacy array layout;
all layouts above are read).

Key mapping (MXNet name without ``arg:``/``aux:`` -> ResNet38d state-dict key)
------------------------------------------------------------------------------
``S`` is the stage (2..7); block ``a`` is the first block of a stage, ``b{k}`` the
k-th following one (b2, b3, b5: k = 1, 2; b4: k = 1..5; b6, b7: only ``a``):

==========================================  ====================================
MXNet                                       ResNet38d
==========================================  ====================================
``conv1a_weight``                           ``conv1a.weight``
``res{S}a_branch1_weight``                  ``b{S}.conv_branch1.weight``
``res{S}a_branch2a_weight``                 ``b{S}.conv_branch2a.weight``
``res{S}a_branch2b1_weight``                ``b{S}.conv_branch2b1.weight``
``res{S}a_branch2b2_weight`` (S = 6, 7)     ``b{S}.conv_branch2b2.weight``
``res{S}b{k}_branch2a_weight``              ``b{S}_{k}.conv_branch2a.weight``
``res{S}b{k}_branch2b1_weight``             ``b{S}_{k}.conv_branch2b1.weight``
``bn{S}a_branch2{a,b1,b2}_gamma``           ``b{S}.bn_branch2{a,b1,b2}.weight``
``bn{S}a_branch2{a,b1,b2}_beta``            ``b{S}.bn_branch2{a,b1,b2}.bias``
``bn{S}a_branch2{a,b1,b2}_moving_mean``     ``b{S}.bn_branch2{a,b1,b2}.running_mean``
``bn{S}a_branch2{a,b1,b2}_moving_var``      ``b{S}.bn_branch2{a,b1,b2}.running_var``
``bn{S}b{k}_branch2{a,b1}_{gamma,...}``     ``b{S}_{k}.bn_branch2{a,b1}.{weight,...}``
``bn7_gamma`` / ``_beta``                   ``bn7.weight`` / ``bn7.bias``
``bn7_moving_mean`` / ``_moving_var``       ``bn7.running_mean`` / ``bn7.running_var``
``linear1000_weight`` / ``_bias``           ignored (ImageNet classifier)
==========================================  ====================================

Conv weights keep their (out, in, kh, kw) layout; BN ``num_batches_tracked`` buffers
(not in MXNet) are written as 0. Any other name, any ResNet38d key without an MXNet
counterpart, or a shape that differs from ResNet38d's, is an error naming the keys.

The written checkpoint is ``{'state_dict': ..., 'meta': ...}`` with bare keys (or keys
with a chosen prefix such as ``backbone.``), loadable by ``torch.load(weights_only=True)``
and by ``init_cfg=dict(type='Pretrained', checkpoint=...[, prefix='backbone.'])``.
"""

import argparse
import math
import os
import os.path as osp
import re
import struct
import sys
from collections import OrderedDict
from typing import BinaryIO

import numpy as np
import torch

from mmhfpl.models.backbones.resnet38d import ResNet38d
from mmhfpl.structures import atomic_save

LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA
MAX_NDIM = 32  # sanity bound; MXNet arrays never get near it

# mshadow type flags; only the floating types are read.
TYPE_FLAGS = {0: 'float32', 1: 'float64', 2: 'float16', 3: 'uint8', 4: 'int32', 5: 'int8',
              6: 'int64'}
READABLE_TYPES = {0: np.dtype('<f4'), 1: np.dtype('<f8'), 2: np.dtype('<f2')}
STORAGE_TYPES = {-1: 'undefined', 0: 'dense', 1: 'row_sparse', 2: 'csr'}

_BN_PARAMS = {'weight': 'gamma', 'bias': 'beta', 'running_mean': 'moving_mean',
              'running_var': 'moving_var'}
_BLOCK_RE = re.compile(r'b(?P<stage>\d)(?:_(?P<k>\d+))?')
IGNORED_RE = re.compile(r'linear\d+_(weight|bias)')


class _Stream:
    """Sequential little-endian reader that reports truncation with the file name."""

    def __init__(self, f: BinaryIO, path: str) -> None:
        self.f = f
        self.path = path
        self.size = os.fstat(f.fileno()).st_size

    @property
    def offset(self) -> int:
        return self.f.tell()

    def error(self, message: str) -> ValueError:
        return ValueError(f'{self.path}: not a readable MXNet NDArray list file: {message}')

    def _check_left(self, nbytes: int, what: str) -> None:
        left = self.size - self.offset
        if nbytes > left:
            raise self.error(f'truncated: {what} needs {nbytes} bytes at offset '
                             f'{self.offset}, only {left} left')

    def read(self, nbytes: int, what: str) -> bytes:
        self._check_left(nbytes, what)
        data = self.f.read(nbytes)
        if len(data) != nbytes:
            raise self.error(f'truncated: short read of {what} at offset {self.offset}')
        return data

    def unpack(self, fmt: str, what: str) -> tuple:
        fmt = '<' + fmt
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))

    def read_array(self, dtype: np.dtype, shape: tuple[int, ...], what: str) -> np.ndarray:
        nbytes = math.prod(shape) * dtype.itemsize  # exact, so garbage dims cannot wrap
        self._check_left(nbytes, what)
        buffer = bytearray(nbytes)
        if self.f.readinto(buffer) != nbytes:
            raise self.error(f'truncated: short read of {what} at offset {self.offset}')
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _read_ndarray(stream: _Stream, index: int) -> np.ndarray:
    what = f'array #{index}'
    start = stream.offset
    (magic, ) = stream.unpack('I', f'{what} header')
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        (stype, ) = stream.unpack('i', f'{what} storage type')
        if stype != 0:
            raise stream.error(f'{what} (offset {start}) has storage type {stype} '
                               f'({STORAGE_TYPES.get(stype, "unknown")}); only dense '
                               'arrays are supported')
        (ndim, ) = stream.unpack('i', f'{what} ndim')
        empty = ndim == (-1 if magic == NDARRAY_V3_MAGIC else 0)
        dim_fmt = 'q'
    elif magic == NDARRAY_V1_MAGIC:
        (ndim, ) = stream.unpack('i', f'{what} ndim')
        empty, dim_fmt = ndim == 0, 'q'
    elif magic <= MAX_NDIM:  # legacy layout: the first word is ndim, dims are uint32
        ndim, empty, dim_fmt = magic, magic == 0, 'I'
    else:
        if index == 0:
            raise stream.error(f'bad magic 0x{magic:08X} of {what} at offset {start} '
                               '(expected 0xF993FAC8/9/A or a legacy ndim <= '
                               f'{MAX_NDIM})')
        raise stream.error(f'bad magic 0x{magic:08X} of {what} at offset {start}; the '
                           'file is corrupt')
    if empty:
        raise stream.error(f'{what} (offset {start}) is an empty NDArray without shape')
    if not 0 <= ndim <= MAX_NDIM:
        raise stream.error(f'{what} (offset {start}) has invalid ndim {ndim}')
    shape = stream.unpack(dim_fmt * ndim, f'{what} shape') if ndim else ()
    if any(dim < 0 for dim in shape):
        raise stream.error(f'{what} (offset {start}) has unknown or negative dims {shape}')
    stream.unpack('ii', f'{what} context')
    (type_flag, ) = stream.unpack('i', f'{what} type flag')
    if type_flag not in READABLE_TYPES:
        name = TYPE_FLAGS.get(type_flag, 'unknown')
        raise stream.error(f'{what} (offset {start}) has unsupported dtype flag '
                           f'{type_flag} ({name}); only float32, float64 and float16 '
                           'are supported')
    return stream.read_array(READABLE_TYPES[type_flag], tuple(shape), f'{what} data')


def read_ndarray_list(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str]]:
    """Arrays and names (possibly none) of an MXNet NDArray list file.

    Raises:
        ValueError: naming the file, if it is not a well-formed NDArray list of dense
            float arrays (bad magic, truncation, unsupported dtype or storage, trailing
            bytes, undecodable names, ...).
    """
    path = os.fspath(path)
    with open(path, 'rb') as f:
        stream = _Stream(f, path)
        magic, _reserved = stream.unpack('QQ', 'list header')
        if magic != LIST_MAGIC:
            raise stream.error(f'bad list magic 0x{magic:X}, expected 0x{LIST_MAGIC:X}')
        (count, ) = stream.unpack('Q', 'array count')
        arrays = [_read_ndarray(stream, index) for index in range(count)]
        (num_names, ) = stream.unpack('Q', 'name count')
        if num_names not in (0, count):
            raise stream.error(f'{num_names} names for {count} arrays')
        names = []
        for index in range(num_names):
            (length, ) = stream.unpack('Q', f'length of name #{index}')
            raw = stream.read(length, f'name #{index}')
            try:
                names.append(raw.decode('utf-8'))
            except UnicodeDecodeError as exc:
                raise stream.error(f'name #{index} is not UTF-8 ({exc})') from None
        trailing = stream.size - stream.offset
        if trailing:
            raise stream.error(f'{trailing} unexpected bytes after the name list '
                               f'(offset {stream.offset})')
    return arrays, names


def load_mxnet_params(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Named arrays of a ``.params`` file, with the ``arg:`` / ``aux:`` prefixes removed."""
    arrays, names = read_ndarray_list(path)
    if not names and arrays:
        raise ValueError(f'{os.fspath(path)}: the NDArray list has no names; a parameter '
                         'file needs them')
    params: dict[str, np.ndarray] = {}
    for name, array in zip(names, arrays, strict=True):
        key = name.split(':', 1)[1] if name.startswith(('arg:', 'aux:')) else name
        if key in params:
            raise ValueError(f'{os.fspath(path)}: parameter {key!r} occurs twice')
        params[key] = array
    return params


def resnet38d_to_mxnet_name(key: str) -> str | None:
    """MXNet name (without ``arg:``/``aux:``) of a ResNet38d state-dict key.

    ``None`` for ``num_batches_tracked``, which MXNet does not have.
    """
    *module, param = key.split('.')
    if param == 'num_batches_tracked':
        return None
    if module == ['conv1a'] and param == 'weight':
        return 'conv1a_weight'
    if module == ['bn7'] and param in _BN_PARAMS:
        return f'bn7_{_BN_PARAMS[param]}'
    if len(module) == 2 and (match := _BLOCK_RE.fullmatch(module[0])):
        block = match['stage'] + (f'b{match["k"]}' if match['k'] else 'a')
        layer = module[1]
        if layer.startswith('conv_branch') and param == 'weight':
            return f'res{block}_{layer[len("conv_"):]}_weight'
        if layer.startswith('bn_branch') and param in _BN_PARAMS:
            return f'bn{block}_{layer[len("bn_"):]}_{_BN_PARAMS[param]}'
    raise ValueError(f'no MXNet name for ResNet38d key {key!r}')


def resnet38d_shapes() -> 'OrderedDict[str, torch.Size]':
    """State-dict keys and shapes of a default ResNet38d (built on the meta device)."""
    with torch.device('meta'):
        model = ResNet38d()
    return OrderedDict((key, value.shape) for key, value in model.state_dict().items())


def _listing(keys: list[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def mxnet_to_resnet38d(params: dict[str, np.ndarray], source: str = 'the MXNet file',
                       prefix: str = '') -> tuple['OrderedDict[str, torch.Tensor]', list[str]]:
    """ResNet38d state dict (float32) from MXNet parameters; also the ignored names.

    Raises:
        ValueError: listing MXNet names with no ResNet38d counterpart, ResNet38d keys
            missing from ``params`` and shape mismatches.
    """
    shapes = resnet38d_shapes()
    wanted = {name: key for key in shapes if (name := resnet38d_to_mxnet_name(key))}
    ignored = sorted(name for name in params if IGNORED_RE.fullmatch(name))
    unknown = sorted(name for name in params if name not in wanted and name not in ignored)
    missing = [name for name in wanted if name not in params]
    problems = []
    if unknown:
        problems.append(f'unknown parameters (not in ResNet38d): {_listing(unknown)}')
    if missing:
        problems.append(f'missing parameters: {_listing(missing)}')
    if not problems:
        mismatched = [f'{name} {tuple(params[name].shape)} != {key} {tuple(shapes[key])}'
                      for name, key in wanted.items()
                      if tuple(params[name].shape) != tuple(shapes[key])]
        if mismatched:
            problems.append(f'shape mismatches: {_listing(mismatched, 10)}')
    if problems:
        raise ValueError(f'{source} does not hold the ResNet38d weights: '
                         + '; '.join(problems))

    state_dict: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key in shapes:
        name = resnet38d_to_mxnet_name(key)
        if name is None:
            value = torch.zeros((), dtype=torch.long)
        else:
            value = torch.from_numpy(params[name].astype(np.float32, copy=False))
        state_dict[prefix + key] = value
    return state_dict, ignored


def save_checkpoint_atomic(checkpoint: dict, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename it over ``path``."""
    atomic_save(lambda tmp: torch.save(checkpoint, tmp), path, '.tmp')


def convert_resnet38d(src: str | os.PathLike, dst: str | os.PathLike,
                      prefix: str = '') -> dict:
    """Convert ``ilsvrc-cls_rna-a1_cls1000_ep-0001.params`` to an mmengine checkpoint.

    Args:
        src: The MXNet ``.params`` file.
        dst: The ``.pth`` to write (atomically; parent folders are created).
        prefix: Prepended to every key, e.g. ``'backbone.'`` (default: bare keys).

    Returns:
        A summary: number of tensors and parameters written, ignored MXNet names.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if osp.exists(dst) and osp.samefile(src, dst):
        raise ValueError(f'refusing to overwrite the input file {src}')
    params = load_mxnet_params(src)
    state_dict, ignored = mxnet_to_resnet38d(params, source=src, prefix=prefix)
    del params
    meta = dict(arch='mmhfpl.ResNet38d', source=osp.basename(src), prefix=prefix,
                ignored=ignored)
    save_checkpoint_atomic(dict(state_dict=state_dict, meta=meta), dst)
    num_params = sum(value.numel() for key, value in state_dict.items()
                     if not key.endswith('num_batches_tracked'))
    return dict(tensors=len(state_dict), params=num_params, ignored=ignored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='MXNet .params file (ilsvrc-cls_rna-a1_cls1000_ep-0001)')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--prefix', default='',
                        help="prefix for every key, e.g. 'backbone.' (default: bare keys)")
    args = parser.parse_args()
    try:
        summary = convert_resnet38d(args.src, args.dst, prefix=args.prefix)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    ignored = ', '.join(summary['ignored']) or 'nothing'
    print(f'wrote {summary["tensors"]} tensors ({summary["params"]:,} parameters) to '
          f'{args.dst}; ignored {ignored}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
