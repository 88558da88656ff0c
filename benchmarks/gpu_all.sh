#!/usr/bin/env bash
# Build, check and time the Triton kernels on a CUDA machine in one call; everything goes under
# $OUT (the device tool's folder that comes back), else benchmarks/results:
#   versions  the GPU, driver, torch, triton, CUDA, cuDNN
#   compile   every kernel compiled for this GPU, with shared memory, registers and spills
#   tests     the gpu-marked tests: compiled kernels against the float64 reference, every dtype
#   bench     benchmarks/gpu_recurrence.py: lstmkit vs cuDNN, JSON lines + a table at the end
# Usage: bash benchmarks/gpu_all.sh [versions] [compile] [tests] [bench]   (default: all four)
# Device tool: first `python benchmarks/common.py stamp` here (refuses a dirty tree; the device's copy
# has no .git, so the bench stage checks the copy against that stamp before recording), then
# run(command="bash benchmarks/gpu_all.sh", timeout_s=600, carry=[".tree.json"]). The stage limits
# below sum to under 10 minutes; a stage that runs over is stopped and the next one starts.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
STAGES="${*:-versions compile tests bench}"

stage() { echo "=== $1 $(date -u +%H:%M:%S)"; }
run_stage() {
  case "$1" in
    versions)
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
      $PY -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__, torch.cuda.get_device_name())"
      $PY -c "import lstmkit.ops as o; print('backends', o.backends())" ;;
    compile)
      timeout 60 $PY -m lstmkit.ops.triton.compile_check --quick ;;
    tests)
      timeout 200 $PY -m pytest tests/ops/test_triton.py -m gpu -q -n 8 -p no:cacheprovider \
        --junitxml="$OUT/gpu_tests.xml" ;;
    bench)
      timeout 300 $PY benchmarks/gpu_recurrence.py --out "$OUT" --budget-s 250 ;;
    *) echo "unknown stage $1" ;;
  esac
  echo "--- $1 exit $?"
}

{
  for s in $STAGES; do
    stage "$s"
    run_stage "$s"
  done
  stage done
} 2>&1 | tee "$OUT/gpu_all.log"
