#!/usr/bin/env bash
# The GPU benchmark and check suite: one command, about 8 minutes on one H200.
#
#   benchmarks/gpu_suite.sh                # on a CUDA machine; JSON in benchmarks/results/<date>-<gpu>.json
#   benchmarks/gpu_suite.sh --smoke        # anywhere: tiny sizes on the CPU, to check the suite itself
#
# Options:
#   --smoke          CPU, tiny resolutions, batches and kimg; results go to a temporary file unless --results
#   --budget S       stop starting steps after S seconds (default 480; 300 with --smoke)
#   --results PATH   where the merged JSON goes
#   --only NAMES     run only these steps (comma list of step names as --list prints them); the others are
#                    recorded as skipped. A name the suite does not have stops it before anything runs.
#   --list           print the step names, in order, and exit
#
# Steps, most important first, each with its own time limit: the GPU-marked tests (exit code 5, no such
# tests, counts as passing), a 1-process torchrun training smoke, dcgan 64 px bf16 with CUDA graphs (compile
# mode reduce-overhead; CUDA only; the launch-bound step's goal), training throughput (stylegan at 64 px
# batch 32 and 64, 256 px batch 64 at the preset's and at StyleGAN2-ADA's paper256 widths (the latter
# also with model.resample=conv), 512 px batch 16; dcgan 64 px batch 64) in fp32 and bf16, generation
# throughput (stylegan 256 px), a torch.profiler breakdown of one iteration (stylegan 256 px at all three
# sizes and dcgan 64 px, bf16: GPU busy share, kernels per iteration, top kernels), the paper256 step's
# kernels timed alone (kernel_bound.py), 2x resampling kernels at the paper256 shapes, the paper256 and
# dcgan steps with train.reuse_fakes, then the training runs with --set train.compile=true, goal sizes
# first (stylegan 256 px, stylegan 64 px batch 64, dcgan). A failing
# step is recorded and the suite goes on; a config key this ganvas does not have is recorded as "rejected".
# Steps that need CUDA are skipped, with a line saying so, when no GPU is present. Exit status 1 when a step
# failed or ran out of time.
# Python and torchrun come from the environment ($PYTHON, default python).

set -u -o pipefail
cd "$(dirname "$0")/.."

SMOKE=0
NOTE=""
ONLY=""
LIST=0
BUDGET=""
RESULTS=""
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --budget) BUDGET="$2"; shift ;;
    --results) RESULTS="$2"; shift ;;
    --only) ONLY=",$2,"; shift ;;
    --list) LIST=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ -z "${PYTHON:-}" && -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY="${PYTHON:-python}"; fi
# One python start for what the suite needs to know: whether torch imports, sees a GPU, and the device's name.
PROBE=$("$PY" - 2>/dev/null <<'EOF'
import os, re
import torch
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name() if cuda else f"cpu{os.cpu_count()}"
print(int(cuda), re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
EOF
) || PROBE=""
if [[ -z "$PROBE" ]]; then
  echo "error: $PY cannot import torch: set PYTHON to the python of the environment ganvas is installed in" \
    "(make install creates .venv, which the suite uses when PYTHON is not set)" >&2
  exit 2
fi
read -r HAS_CUDA SLUG <<<"$PROBE"
TORCHRUN=("$PY" -m torch.distributed.run)  # the torchrun of this python's torch
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STEPS="$WORK/steps.tsv"
: >"$STEPS"

DATE=$(date +%Y-%m-%d)

# Section: sizes. On a GPU the kimg per step is planned so that all steps fit ~8 minutes; --smoke shrinks
# resolutions, batches and kimg so the whole suite runs in a couple of CPU minutes.
if ((SMOKE)); then
  DEVICE=cpu
  BUDGET="${BUDGET:-300}"
  RESULTS="${RESULTS:-${TMPDIR:-/tmp}/gpu-suite-$DATE-$SLUG-smoke.json}"
  R64=16; R256=16; R512=16; B32=8; B64=8; B16=8
  K64=0.03; K256=0.03; K512=0.03; KDC=0.03; BDC=8; WP=4; WPMAX=32
  LARGE=(--max-images 48)  # the 512 px step's folder-of-tiles data path, at a size a CPU smoke affords
  RESAMPLE=(--seconds 0.02)
  BOUND=(--seconds 0.005 --step-seconds 0.1 --rounds 1)
  CEIL=(--ceiling-size 256 --ceiling-batch 2 --ceiling-seconds 0.02)
  SAMPLE=(--resolution 16 --batch 16 --images 64)
  DDP_KIMG=0.02
  LIMIT=60; LIMIT_COMPILE=90
else
  BUDGET="${BUDGET:-480}"
  RESULTS="${RESULTS:-benchmarks/results/$DATE-$SLUG.json}"
  R64=64; R256=256; R512=512; B32=32; B64=64; B16=16
  K64=5; K256=2; K512=1; KDC=10; BDC=64; WP=64; WPMAX=512
  LARGE=()
  RESAMPLE=()
  BOUND=(--seconds 0.05 --step-seconds 1 --rounds 2)
  CEIL=()
  SAMPLE=(--resolution 256 --batch 64 --images 8192)
  DDP_KIMG=0.5
  LIMIT=90; LIMIT_COMPILE=100
  if ((HAS_CUDA)); then
    DEVICE=cuda
  else
    DEVICE=cpu
    NOTE="no CUDA device: the steps run on the CPU at full size within the budget; --smoke is the quick check"
  fi
fi

# Section: running a step.
# With LISTING=1 the steps only add their names to NAMES (the list pass that checks --only before a run).
LISTING=0
NAMES=","

# skip_step NAME "KIND: why": records a step that did not run, with a line saying why.
skip_step() {
  if ((LISTING)); then NAMES+="$1,"; return; fi
  echo "== $1: skipped ($2)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "skipped: ${2%%:*}" "" 0 "" "" >>"$STEPS"
}

# run_step NAME NEEDS_CUDA LIMIT_S OK_CODES CMD...: runs CMD under a time limit, prints its output and the
# elapsed time, and records name, status, exit code, seconds, JSON path and command in $STEPS.
run_step() {
  local name="$1" needs_cuda="$2" limit="$3" ok_codes="$4"
  shift 4
  if ((LISTING)); then NAMES+="$name,"; return; fi
  local json="$WORK/$name.json" log="$WORK/$name.log" status rc t0 remaining
  local cmd="$*"
  cmd="${cmd//$WORK/\$WORK}"
  if [[ -n "$ONLY" && "$ONLY" != *",$name,"* ]]; then
    skip_step "$name" "not selected: --only"
    return
  fi
  if ((needs_cuda)) && ((!HAS_CUDA)); then
    skip_step "$name" "no CUDA: this step needs a CUDA device, and none is present"
    return
  fi
  remaining=$((BUDGET - SECONDS))
  if ((remaining < 15)); then
    skip_step "$name" "budget: the suite's $BUDGET s are spent"
    return
  fi
  ((limit > remaining)) && limit=$remaining
  echo "== $name (limit ${limit} s): $cmd"
  t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [[ " $ok_codes " == *" $rc "* ]]; then
    status=ok
  elif ((rc == 124 || rc == 137)); then
    status=timeout
  elif ((rc == 2)) && grep -qE "unknown config key|no CUDA training yet" "$log"; then
    status=rejected
  else
    status=failed
  fi
  echo "-- $name: $status (exit code $rc) in $((SECONDS - t0)) s; suite at $SECONDS s"
  [[ -f "$json" ]] || json=""
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$((SECONDS - t0))" "$json" "$cmd" >>"$STEPS"
}

TT=("$PY" benchmarks/train_throughput.py --device "$DEVICE" --precision fp32,bf16 "${CEIL[@]}")
ST=("$PY" benchmarks/sample_throughput.py --device "$DEVICE" --precision fp32,bf16 "${CEIL[@]}")

# The training steps, named by their GPU sizes (a --smoke run keeps the names, with the shrunk sizes in its
# recorded commands). train_steps SUFFIX LIMIT KEYS -- EXTRA...: runs the steps named by KEYS (sg64-b32 sg64-b64
# sg256-b64 sg256p-b64 sg256pc-b64 sg256-b64-fp16 sg512-b16 dcgan64-b64) in that order; EXTRA (e.g. --set train.compile=true) goes to
# every step.
train_steps() {
  local suffix="$1" limit="$2"
  shift 2
  local keys=()
  while (($#)) && [[ "$1" != "--" ]]; do keys+=("$1"); shift; done
  (($#)) && shift
  local key name
  for key in "${keys[@]}"; do
    name="train-$key$suffix"
    case "$key" in
      sg64-b32) run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R64" --batch "$B32" \
        --kimg "$K64" "$@" --out "$WORK/$name.json" ;;
      sg64-b64) run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R64" --batch "$B64" \
        --kimg "$K64" "$@" --out "$WORK/$name.json" ;;
      sg256-b64) run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R256" --batch "$B64" \
        --kimg "$K256" "$@" --out "$WORK/$name.json" ;;
      sg256p-b64)  # StyleGAN2-ADA's paper256 sizes: 64 channels at 256 px doubling to 512, w 512, 8 mapping layers
        run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R256" --batch "$B64" --width "$WP" \
          --set model.max_width="$WPMAX" --set model.w_dim="$WPMAX" --set model.map_layers=8 --kimg "$K256" "$@" \
          --out "$WORK/$name.json" ;;
      sg256pc-b64)  # the same, with G's upsampling and D's pooling as depthwise convolutions
        run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R256" --batch "$B64" --width "$WP" \
          --set model.max_width="$WPMAX" --set model.w_dim="$WPMAX" --set model.map_layers=8 \
          --set model.resample=conv --kimg "$K256" "$@" --out "$WORK/$name.json" ;;
      sg256-b64-fp16)  # fp16 with loss scaling, the option for GPUs without bf16
        run_step "$name" 0 "$limit" 0 "$PY" benchmarks/train_throughput.py --device "$DEVICE" --precision fp16 \
          "${CEIL[@]}" --preset auto --resolution "$R256" --batch "$B64" --kimg "$K256" "$@" \
          --out "$WORK/$name.json" ;;
      sg512-b16) run_step "$name" 0 "$limit" 0 "${TT[@]}" --preset auto --resolution "$R512" --batch "$B16" \
        --kimg "$K512" "${LARGE[@]}" "$@" --out "$WORK/$name.json" ;;
      dcgan64-b64) run_step "$name" 0 "$limit" 0 "${TT[@]}" --model dcgan --resolution 64 --width 64 --z-dim 100 \
        --batch "$BDC" --kimg "$KDC" "$@" --out "$WORK/$name.json" ;;
    esac
  done
}

# Where the time of an iteration goes (torch.profiler): GPU busy share, kernels per iteration, top kernels.
# sg256p is StyleGAN2-ADA's paper256 size (the model behind its published 256 px speeds); sg256pc the same
# with --set model.resample=conv.
profile_steps() {
  run_step profile-sg256-b64-bf16 0 "$LIMIT" 0 "$PY" benchmarks/profile_step.py --device "$DEVICE" --precision bf16 \
    --preset auto --resolution "$R256" --batch "$B64" --out "$WORK/profile-sg256-b64-bf16.json"
  run_step profile-sg256p-b64-bf16 0 "$LIMIT" 0 "$PY" benchmarks/profile_step.py --device "$DEVICE" \
    --precision bf16 --preset auto --resolution "$R256" --batch "$B64" --width "$WP" --set model.max_width="$WPMAX" \
    --set model.w_dim="$WPMAX" --set model.map_layers=8 --out "$WORK/profile-sg256p-b64-bf16.json"
  run_step profile-sg256pc-b64-bf16 0 "$LIMIT" 0 "$PY" benchmarks/profile_step.py --device "$DEVICE" \
    --precision bf16 --preset auto --resolution "$R256" --batch "$B64" --width "$WP" --set model.max_width="$WPMAX" \
    --set model.w_dim="$WPMAX" --set model.map_layers=8 --set model.resample=conv \
    --out "$WORK/profile-sg256pc-b64-bf16.json"
  run_step profile-dcgan64-b64-bf16 0 "$LIMIT" 0 "$PY" benchmarks/profile_step.py --device "$DEVICE" \
    --precision bf16 --model dcgan --resolution 64 --width 64 --z-dim 100 --batch "$BDC" \
    --out "$WORK/profile-dcgan64-b64-bf16.json"
}

# Section: the steps (every name in every mode: a step that cannot run here is recorded as skipped).
suite_steps() {
run_step pytest-gpu 1 120 "0 5" "$PY" -m pytest -q -m gpu tests/
run_step torchrun-1proc 0 90 0 "${TORCHRUN[@]}" --standalone --nproc_per_node=1 -m ganvas train --data emoji \
  --out "$WORK/ddp" --kimg "$DDP_KIMG" --no-progress
if ((SMOKE)); then
  skip_step train-dcgan64-b64-cudagraphs "smoke: CUDA graphs need a CUDA device"
else  # DCGAN-64 is launch-bound on a GPU: CUDA graphs (compile mode reduce-overhead)
  run_step train-dcgan64-b64-cudagraphs 1 "$LIMIT_COMPILE" 0 "${TT[@]}" --model dcgan --resolution 64 --width 64 \
    --z-dim 100 --batch "$BDC" --kimg "$KDC" --precision bf16 --set train.compile=true \
    --set train.compile_mode=reduce-overhead --out "$WORK/train-dcgan64-b64-cudagraphs.json"
fi
train_steps "" "$LIMIT" sg64-b32 sg64-b64 sg256-b64 sg256p-b64 sg256pc-b64 sg256-b64-fp16 sg512-b16 dcgan64-b64
run_step sample-sg256 0 "$LIMIT" 0 "${ST[@]}" --preset auto "${SAMPLE[@]}" --out "$WORK/sample-sg256.json"
profile_steps
# The paper256 step's own matmuls and convolutions, each replayed alone: how much of the gap to the MFU goal is
# the kernels at these shapes and how much the work around them.
run_step bound-sg256p-b64-bf16 0 "$LIMIT" 0 "$PY" benchmarks/kernel_bound.py --device "$DEVICE" --precision bf16 \
  --preset auto --resolution "$R256" --batch "$B64" --width "$WP" --set model.max_width="$WPMAX" \
  --set model.w_dim="$WPMAX" --set model.map_layers=8 "${CEIL[@]}" "${BOUND[@]}" \
  --out "$WORK/bound-sg256p-b64-bf16.json"
# 2x resampling as ganvas writes it (depthwise convolutions) against torch's interpolate and avg_pool2d.
run_step resample-sg256p 0 "$LIMIT" 0 "$PY" benchmarks/resample_kernels.py --device "$DEVICE" --resolution "$R256" \
  --width "$WP" --max-width "$WPMAX" --batch "$B64" "${RESAMPLE[@]}" --out "$WORK/resample-sg256p.json"
# G trained on the D step's fakes (one G forward pass per iteration instead of two): 1.12x for DCGAN-64 on the CPU.
train_steps "-reuse" "$LIMIT" sg256p-b64 dcgan64-b64 -- --set train.reuse_fakes=true
if ((SMOKE)); then  # compiling takes minutes on a CPU: one compiled step checks the path
  for name in train-sg64-b32 train-sg64-b64 train-sg256-b64 train-sg512-b16; do
    skip_step "$name-compile" "smoke: one compiled step checks the path"
  done
  run_step train-dcgan64-b64-compile 0 "$LIMIT_COMPILE" 0 "${TT[@]}" --model dcgan --resolution 64 --width 64 \
    --z-dim 100 --batch "$BDC" --kimg "$KDC" --precision bf16 --set train.compile=true \
    --out "$WORK/train-dcgan64-b64-compile.json"
else  # the goal sizes first: the budget may end the list
  train_steps "-compile" "$LIMIT_COMPILE" sg256-b64 sg64-b64 dcgan64-b64 sg64-b32 sg512-b16 -- --set train.compile=true
fi
}

LISTING=1
suite_steps
LISTING=0
if ((LIST)); then
  tr ',' '\n' <<<"${NAMES#,}" | sed '/^$/d'
  exit 0
fi
if [[ -n "$ONLY" ]]; then
  unknown=()
  IFS=',' read -ra wanted <<<"${ONLY//,,/,}"
  for name in "${wanted[@]}"; do
    [[ -z "$name" || "$NAMES" == *",$name,"* ]] || unknown+=("$name")
  done
  if ((${#unknown[@]})); then
    steps="${NAMES//,/ }"
    echo "error: --only names no step of this suite: ${unknown[*]}. Steps:${steps% }" >&2
    exit 2
  fi
fi
[[ -n "$NOTE" ]] && echo "$NOTE"
echo "gpu_suite: device $DEVICE ($SLUG), budget ${BUDGET} s, smoke $SMOKE, results -> $RESULTS"
suite_steps

# Section: merge every step's JSON into one file and print the summary.
mkdir -p "$(dirname "$RESULTS")"
"$PY" - "$STEPS" "$RESULTS" "$DEVICE" "$SMOKE" "$BUDGET" "$SECONDS" <<'EOF'
import datetime, json, sys
from pathlib import Path

sys.path.insert(0, "benchmarks")
from _machine import machine

steps_file, results, device, smoke, budget, elapsed = sys.argv[1:7]
steps = []
for line in Path(steps_file).read_text().splitlines():
    name, status, rc, seconds, json_path, cmd = line.split("\t", 5)
    result = json.loads(Path(json_path).read_text()) if json_path else None
    steps.append({"name": name, "status": status, "exit_code": int(rc) if rc else None, "seconds": int(seconds),
                  "command": cmd, "result": result})
report = {"suite": "gpu_suite", "date": datetime.date.today().isoformat(), "device": device, "smoke": smoke == "1",
          "budget_s": int(budget), "elapsed_s": int(elapsed), "machine": machine(), "steps": steps}
Path(results).write_text(json.dumps(report, indent=2) + "\n")


def figures(result):
    if result and "totals_ms" in result:  # resampling kernels: each variant's time against the first
        return "; ".join(f"{what}: " + " ".join(f"{k} {v:.2f}" for k, v in t.items()) + " ms"
                         for what, t in result["totals_ms"].items())
    if result and "wall_ms_per_iter" in result:  # a profile
        s = f"{result['wall_ms_per_iter']:g} ms/iter ({result['img_per_sec']:g} img/s)"
        if result.get("gpu_busy_share") is not None:
            s += f", GPU busy {100 * result['gpu_busy_share']:.0f}%, {result['kernels_per_iter']:.0f} kernels/iter"
        return s
    if not result or "results" not in result:
        return ""
    parts = []
    for r in result["results"]:
        if "error" in r:
            parts.append(f"{r['precision']} failed")
            continue
        s = f"{r['precision']} {r['img_per_sec']:g} img/s"
        if "utilisation" in r:
            s += f" util {100 * r['utilisation']:.1f}%"
        if "mfu" in r:
            s += f" MFU {100 * r['mfu']:.2f}%"
        parts.append(s)
    return "; ".join(parts)


print(f"\nsummary ({report['elapsed_s']} s, device {device}{', smoke' if report['smoke'] else ''}):")
print(f"{'step':<30}{'status':<23}{'s':>5}  figures")
for s in steps:
    print(f"{s['name']:<30}{s['status']:<23}{s['seconds']:>5}  {figures(s['result'])}")
print(f"results: {results}")
sys.exit(1 if any(s["status"] in ("failed", "timeout") for s in steps) else 0)  # rejected and skipped do not fail
EOF
