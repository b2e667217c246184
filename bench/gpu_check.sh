#!/usr/bin/env bash
# GPU-only checks of the train and evaluate steps (issue 14), in ONE call on a lent GPU machine
# (an H200: torch, transformers, peft, accelerate installed; no package registry), under 8 min.
#
#   1. the packing-isolation test on CUDA in bf16 (every attention path and speed option)
#   2. bench/train_throughput.py on Llama-2-7B's shape: the 16-bit variants (SDPA, flex, longer
#      rows, Liger), with a kernel-class profile of the default (where the time goes)
#   3. a random 7B checkpoint on disk (bench/synthetic.py), for the loads from disk
#   4. the 8-bit base: the train step's own load_base(precision=int8), its throughput and memory
#   5. bench/eval_throughput.py: the evaluate step's engine vs lm-eval's HFLM on the same items
#   6. with the time left: the compiled-layer variants (minutes of compilation)
# Each part has a time cap and the whole a budget (BUDGET seconds, default 470); a part that runs
# out is cut (its log keeps what it printed: the benches print each variant as it ends) and the
# next one runs. $OUT (bench/out when unset) gets at most 8 files, the most the device tool
# brings back: summary.txt (the short version), one log per bench/test part, and gpu_check.tgz
# (the JSON figures and the other logs, written into $WORK as they come).
#
# Packages the GPU machine lacks travel as wheels in bench/wheels (ignored by git, ~58 MB). Make
# them here first, once (needs a registry; the GPU machine's Python version is not known before,
# so pydantic-core is fetched for 3.10 to 3.13):
#     bash bench/gpu_check.sh --fetch-wheels
# then, with the device tool:
#     run(command="bash bench/gpu_check.sh", carry=["bench/wheels"], timeout_s=540)
# No make, no editable install: the repo is put on PYTHONPATH. Exit status: 0 when every part
# passed; otherwise the number of parts that failed (the logs say which and why).
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=bench/wheels

if [[ "${1:-}" == "--fetch-wheels" ]]; then
  # Light pure-Python deps of the package and of the tests, plus the GPU kernels' wheels.
  set -e
  mkdir -p "$WHEELS"
  for v in 3.10 3.11 3.12 3.13; do
    python3 -m pip download -q --only-binary=:all: --python-version "$v" --platform manylinux2014_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d "$WHEELS" \
      pydantic pytest requests
  done
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_24_x86_64 \
    --python-version 3.11 -d "$WHEELS" liger-kernel bitsandbytes
  # lm-eval's HFLM for the eval bench, without its 75 MB of task YAMLs (HFLM imports none of
  # them, nor datasets): unpacked onto PYTHONPATH, the harness version the project pins.
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS" lm-eval==0.4.13
  rm -rf "$WHEELS/site" && unzip -q "$WHEELS"/lm_eval-0.4.13-*.whl -x 'lm_eval/tasks/*' -d "$WHEELS/site"
  rm "$WHEELS"/lm_eval-0.4.13-*.whl
  du -sh "$WHEELS" && ls "$WHEELS"
  exit 0
fi

OUT=${OUT:-bench/out}
WORK=${WORK:-/tmp/gpu_check}
mkdir -p "$OUT" "$WORK"
BUDGET=${BUDGET:-470}
PY=${PY:-python3}
CKPT=${CKPT:-/tmp/nj-7b}
export PYTHONPATH="$PWD:$PWD/$WHEELS/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
  TOKENIZERS_PARALLELISM=false PIP_BREAK_SYSTEM_PACKAGES=1  # a system Python there: install anyway
FAILED=0

left() { echo $(( BUDGET - SECONDS )); }
# part NAME CAP CMD...: run CMD with at most CAP seconds (less if the budget has less), log to
# $LOGS/NAME.log ($OUT unless the caller sets LOGS)
part() {
  local name=$1 cap=$2 logs=${LOGS:-$OUT}; shift 2
  local t; t=$(left); (( t < cap )) && cap=$t
  if (( cap < 20 )); then
    echo "$name: skipped, ${t}s of the budget left" | tee -a "$OUT/summary.txt"; FAILED=$((FAILED + 1)); return
  fi
  echo "== $name (cap ${cap}s, t=${SECONDS}s)"
  local start=$SECONDS rc=0
  timeout --kill-after=10 "$cap" "$@" >"$logs/$name.log" 2>&1 || rc=$?
  local verdict=ok; (( rc == 124 || rc == 137 )) && verdict="CUT at ${cap}s" ; (( rc != 0 && rc != 124 && rc != 137 )) && verdict="FAILED rc=$rc"
  [[ $verdict == ok ]] || FAILED=$((FAILED + 1))
  echo "$name: $verdict in $((SECONDS - start))s" | tee -a "$OUT/summary.txt"
  tail -n 25 "$logs/$name.log"
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c 'import sys, torch, transformers, peft; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "peft", peft.__version__)'
} 2>&1 | tee "$OUT/summary.txt"

if [[ -d $WHEELS ]]; then
  # --no-deps for the kernels: their deps (torch, triton, numpy) are the machine's own.
  $PY -m pip install -q --no-index --find-links "$WHEELS" pydantic pytest requests >"$WORK/install.log" 2>&1 \
    || echo "install of pydantic/pytest from $WHEELS failed (see install.log in gpu_check.tgz)" | tee -a "$OUT/summary.txt"
  for w in "$WHEELS"/liger_kernel-*.whl "$WHEELS"/bitsandbytes-*.whl; do
    [[ -f $w ]] && $PY -m pip install -q --no-index --no-deps "$w" >>"$WORK/install.log" 2>&1
  done
else
  echo "no $WHEELS folder: run 'bash bench/gpu_check.sh --fetch-wheels' here and carry it" | tee -a "$OUT/summary.txt"
fi
$PY - <<'EOF' 2>&1 | tee -a "$OUT/summary.txt"
import importlib
for m in ("pydantic", "pytest", "triton", "liger_kernel", "bitsandbytes", "lm_eval", "flash_attn"):
    try:
        mod = importlib.import_module(m); print(f"{m}: {getattr(mod, '__version__', 'ok')}")
    except Exception as e:
        print(f"{m}: not usable ({type(e).__name__}: {str(e)[:100]})")
EOF

# In order of what the issue most needs; a part cut by its cap does not stop the next one.
part isolation 100 $PY -m pytest -q -rs -p no:cacheprovider tests/unit/training/test_packing_isolation.py
part train 140 $PY bench/train_throughput.py --steps 4 --warm 2 --profile \
  --variants naive_padded,packed_loop,train_step,+flex,+flex_4k,+liger,+liger_flex_4k --json "$WORK/train.json"
LOGS=$WORK part checkpoint 50 $PY bench/synthetic.py --config 7b --out "$CKPT"
part train_int8 100 $PY bench/train_throughput.py --variants int8,int8+liger --checkpoint "$CKPT" --steps 3 --warm 1 \
  --json "$WORK/train_int8.json"
part eval 60 $PY bench/eval_throughput.py --checkpoint "$CKPT" --items 48 --json "$WORK/eval.json"
# Optional: compilation takes minutes; this part is usually cut, and is then counted in the exit status.
part train_compile 200 $PY bench/train_throughput.py --steps 4 --warm 2 \
  --variants train_step,+compile,+liger_compile --json "$WORK/train_compile.json"

echo "total ${SECONDS}s; failed or cut parts: $FAILED" | tee -a "$OUT/summary.txt"
tar czf "$OUT/gpu_check.tgz" -C "$WORK" . 2>/dev/null
exit "$FAILED"
