#!/bin/bash
# What the storyboard and the MP4 rendition add to a transcode (not part of `make test`):
# interleaved release runs of `vstream transcode` on the standard input, without either,
# with the storyboard, and with the MP4, then the median wall and CPU time of each and
# their ratios to the plain run. Usage: Tests/perf/bench_extras.sh [INPUT] [RUNS]
set -euo pipefail
input=${1:-fixtures/media/bench_1080p_20s.mp4}
runs=${2:-3}
binary=${VSTREAM_BINARY:-.build/release/vstream}
log=$(mktemp)
trap 'rm -rf "$log" /tmp/vstream-extras-*' EXIT
for run in $(seq "$runs"); do
  for variant in plain storyboard mp4; do
    case $variant in
      plain) flags=(--mp4 none --no-storyboard) ;;
      storyboard) flags=(--mp4 none) ;;
      mp4) flags=(--no-storyboard) ;;
    esac
    rm -rf "/tmp/vstream-extras-$variant"
    /usr/bin/time -f "$variant %e %U %S" -a -o "$log" "$binary" transcode "$input" -o "/tmp/vstream-extras-$variant" \
      --progress none "${flags[@]}" >/dev/null
  done
done
python3 - "$log" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    variant, wall, user, system = line.split()
    rows.setdefault(variant, []).append((float(wall), float(user) + float(system)))
median = {v: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for v, r in rows.items()}
plain = median["plain"]
print("| run | wall (median) | CPU (median) | wall / plain | CPU / plain |")
print("|---|---|---|---|---|")
for variant in ("plain", "storyboard", "mp4"):
    wall, cpu = median[variant]
    print(f"| {variant} | {wall:.2f} s | {cpu:.2f} s | {wall / plain[0]:.3f} | {cpu / plain[1]:.3f} |")
PY
