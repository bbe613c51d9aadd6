#!/usr/bin/env bash
# The GPU checks in one prepared script, for a lent GPU machine (the project's `device` tool) whose Python has
# torch but not gymnasium / Stable-Baselines3, and no network.
#
#   bash benchmarks/gpu_session.sh prepare    # here, with the network: wheels for Python 3.12 into .whl/ (git-ignored)
#   bash benchmarks/gpu_session.sh run        # there (carry .whl): install them, then
#                                             #   1. benchmarks/device_check.py --device cuda (every algorithm trains)
#                                             #   2. benchmarks/throughput.py --device cuda: vision fp32/bf16, eager and
#                                             #      compiled, peers; then the paper's L and XL sizes
#                                             #   3. benchmarks/distributed.py --device cuda: data-parallel
#                                             #      scaling (NCCL) at 1, 2, 4, 8 ranks, as many as GPUs lent
#
# Results go to $OUT (the device tool's folder that comes back) or benchmarks/results/gpu.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
OUT_DIR=${OUT:-benchmarks/results/gpu}
PEAK_TFLOPS=${PEAK_TFLOPS:-989}   # dense bf16 peak of an H100 SXM; an H200 has the same tensor cores

case "${1:-run}" in
prepare)
  mkdir -p "$WHEELS"
  platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
             --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
  # ours needs these beside torch; the peers (torchrl, tensordict) are optional: the benchmark skips what won't import
  for pkg in gymnasium==1.4.0 farama-notifications==0.0.4 stable-baselines3==2.9.2 tensordict==0.14.3 torchrl==0.14.1; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${platforms[@]}" -d "$WHEELS" "$pkg"
  done
  du -sh "$WHEELS"
  ;;
run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/ours .
  export PYTHONPATH=/tmp/ours:$PYTHONPATH PYTHONUNBUFFERED=1
  mkdir -p "$OUT_DIR"
  status=0
  # 10 files come back from $OUT: device_check.{log,json}, and per throughput run its log, JSON and PNG
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 benchmarks/device_check.py --device cuda --steps 400 -o "$OUT_DIR"; } 2>&1 | tee "$OUT_DIR/device_check.log" \
    || status=1
  python3 benchmarks/throughput.py --device cuda --configs vision --precisions fp32 bf16 \
    --compile-modes eager compiled --peers torchrl --repeats 10 --peak-tflops "$PEAK_TFLOPS" --output "$OUT_DIR/vision" \
    2>&1 | tee "$OUT_DIR/throughput_vision.log" || status=1
  python3 benchmarks/throughput.py --device cuda --configs vision-L vision-XL --precisions fp32 bf16 --repeats 5 \
    --peak-tflops "$PEAK_TFLOPS" --output "$OUT_DIR/large" 2>&1 | tee "$OUT_DIR/throughput_large.log" || status=1
  # data-parallel scaling: one rank per GPU (NCCL), 1 rank = the plain single-process path
  n_gpus=$(nvidia-smi -L | wc -l)
  ranks=(); for n in 1 2 4 8; do [ "$n" -le "$n_gpus" ] && ranks+=("$n"); done
  python3 benchmarks/distributed.py --device cuda --config vision --ranks "${ranks[@]}" --repeats 2 --prefill 300 \
    --updates 20 --env-steps 200 --output "$OUT_DIR/distributed_vision" 2>&1 | tee "$OUT_DIR/distributed.log" || status=1
  exit $status
  ;;
*)
  echo "usage: bash benchmarks/gpu_session.sh prepare|run" >&2
  exit 2
  ;;
esac
