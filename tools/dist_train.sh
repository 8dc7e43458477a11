#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG NUM_PROCS [ARGS...]
# On machines without GPUs each process trains on the CPU (gloo backend).
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
# One share of the CPU cores per process (torchrun would give each just one thread, and a
# process left at all cores oversubscribes them); set OMP_NUM_THREADS to override.
CORES=$(nproc 2>/dev/null || echo 1)
PER_PROC=$(( CORES / ${NPROC:-1} ))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( PER_PROC > 0 ? PER_PROC : 1 ))}
# Waiting OpenMP threads spin briefly, then sleep (benchmarks/bench_oversubscription.py).
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$TOOLS/..:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"
