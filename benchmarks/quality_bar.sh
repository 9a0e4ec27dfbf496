#!/usr/bin/env bash
# Quality experiments of the style-based model, each pair side by side with one thread per run:
#
#   benchmarks/quality_bar.sh OUT_DIR style-vs-dcgan [MINUTES]   # emoji at 64 px: preset auto vs the DCGAN
#   benchmarks/quality_bar.sh OUT_DIR ada-100 [MINUTES]          # 100 emoji at 32 px: ADA vs no augmentation
#   benchmarks/quality_bar.sh OUT_DIR creative [MINUTES]         # emoji at 32 px: conditional vs creative
#   benchmarks/quality_bar.sh OUT_DIR tiny-64 [MINUTES]          # 100 emoji at 64 px: style+ADA vs FastGAN+DiffAugment
#   benchmarks/quality_bar.sh OUT_DIR leak-scenes [MINUTES]      # ADA's leaks vs p, on 100 oriented scenes at 32 px
#
# Every run trains for the same training time (--minutes), logs KID against its training data during
# training (metrics.jsonl: KID vs kimg), and is scored at the end with `ganvas metrics` (and the leak
# check for the ADA pair). Results go to OUT_DIR/<run>/ and OUT_DIR/<pair>.txt.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: quality_bar.sh OUT_DIR PAIR [MINUTES]}
PAIR=${2:?usage: quality_bar.sh OUT_DIR PAIR [MINUTES]}
MIN=${3:-30}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
common=(--no-progress --set train.threads=1 --set train.metrics_num=500 --minutes "$MIN" --kimg 100000)

train() {  # name, args...
  local name=$1; shift
  "$PY" -m ganvas train --out "$OUT/$name" "${common[@]}" "$@" >"$OUT/$name.log" 2>&1
}

tiny_pair() {  # resolution, name1, "args1", name2, "args2": a pair on 100 emoji, scored with KID, FID and the leak check
  local res=$1 sub="$OUT/emoji100"
  [ -d "$sub" ] || "$PY" benchmarks/emoji_subset.py --num 100 --resolution 64 --out "$sub"
  # shellcheck disable=SC2086  # the args strings are meant to split into flags
  train "$2" --data "$sub" --resolution "$res" --preset auto $3 --metrics kid --metrics-every 5 &
  # shellcheck disable=SC2086
  train "$4" --data "$sub" --resolution "$res" --preset auto $5 --metrics kid --metrics-every 5 &
  wait
  for r in "$2" "$4"; do
    "$PY" -m ganvas metrics "$OUT/$r" --ref emoji --metrics kid,fid --num 1636 --json >"$OUT/$r.metrics.json"
    "$PY" -m ganvas leak "$OUT/$r" --ref emoji --num 500 >"$OUT/$r.leak.txt"
  done
}

case "$PAIR" in
  style-vs-dcgan)
    train style --data emoji --resolution 64 --preset auto --metrics kid --metrics-every 10 &
    train dcgan --data emoji --resolution 64 --model dcgan --metrics kid --metrics-every 40 &
    wait
    for r in style dcgan; do
      "$PY" -m ganvas metrics "$OUT/$r" --ref emoji --metrics kid,fid,pr --num 1636 --json >"$OUT/$r.metrics.json"
    done
    ;;
  ada-100)  # style-based at 32 px: ADA against no augmentation
    tiny_pair 32 ada "--model stylegan --aug ada" noaug "--model stylegan --aug none"
    ;;
  tiny-64)  # 64 px: the style-based model with ADA against FastGAN with DiffAugment
    tiny_pair 64 style "--model stylegan --aug ada" fastgan "--model fastgan --aug diffaugment"
    ;;
  creative)
    train conditional --data emoji --labels subdirs --preset demo --kimg 100000 &
    train creative --data emoji --labels subdirs --preset demo --creative &
    wait
    "$PY" benchmarks/style_entropy.py "$OUT/conditional" "$OUT/creative" --num 500 >"$OUT/creative.txt"
    ;;
  leak-scenes)  # style-based, 100 synthetic scenes (benchmarks/oriented_scenes.py): where does ADA leak?
    # Three pairs: adaptive p vs no augmentation, fixed p 0.35 vs 0.5 (bgc), fixed p 0.8 (bgc) vs 1 (blit:
    # flips and 90-degree rotations only). Scored against 1,000 held-out scenes from another seed.
    sub="$OUT/scenes100" ref="$OUT/scenes-ref"
    [ -d "$sub" ] || "$PY" benchmarks/oriented_scenes.py --num 100 --resolution 64 --out "$sub"
    [ -d "$ref" ] || "$PY" benchmarks/oriented_scenes.py --num 1000 --seed 1 --resolution 64 --out "$ref"
    scene() { local name=$1; shift; train "$name" --data "$sub" --resolution 32 --preset auto --model stylegan "$@"; }
    scene ada --aug ada & scene noaug --aug none & wait
    scene fixed035 --aug ada --set aug.ada_p=0.35 & scene fixed05 --aug ada --set aug.ada_p=0.5 & wait
    scene fixed08 --aug ada --set aug.ada_p=0.8 & scene fixed1 --aug ada --set aug.ada_p=1 --set aug.policy=blit & wait
    for r in ada noaug fixed035 fixed05 fixed08 fixed1; do
      "$PY" -m ganvas leak "$OUT/$r" --ref "$ref" --num 500 --json >"$OUT/$r.leak.json"
      "$PY" -m ganvas metrics "$OUT/$r" --ref "$ref" --metrics kid,fid --num 1000 --json >"$OUT/$r.metrics.json"
    done
    ;;
  *) echo "unknown pair $PAIR" >&2; exit 2 ;;
esac
echo "done: $PAIR in $OUT"
