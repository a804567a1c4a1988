#!/usr/bin/env bash
# The audio task's loudness read in spans (issue 21): the audio task (`--only-audio`) of two
# builds, alternated in one call, and the same task with `--loudness off` (its encode alone,
# the floor no measurement can go under).
#
#   usage: bench/loudness_spans.sh BEFORE AFTER [INPUT] [ROUNDS]
#   default INPUT: 10 minutes of 640x360 with stereo AAC, made here once (the source of
#   docs/performance.md's "The audio task"); ROUNDS: 2
#
# Prints one Markdown row a run (wall s, CPU s, peak RSS MiB, the gain it applied), then the
# medians. Needs /usr/bin/time and the ffmpeg CLI.
set -euo pipefail
BEFORE=${1:?usage: bench/loudness_spans.sh BEFORE AFTER [INPUT] [ROUNDS]}
AFTER=${2:?usage: bench/loudness_spans.sh BEFORE AFTER [INPUT] [ROUNDS]}
INPUT=${3:-}
ROUNDS=${4:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "$INPUT" ]; then
    INPUT=$WORK/long.mp4
    # A level that swells and fades, so the measurement has a loudness range to read.
    ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=30 \
        -f lavfi -i "aevalsrc=0.2*(1.2+sin(2*PI*t/41))*sin(2*PI*440*t)|0.2*(1.2+sin(2*PI*t/41))*sin(2*PI*440*t):s=48000" \
        -t 600 -c:v libx264 -preset ultrafast -g 60 -c:a aac -b:a 128k "$INPUT"
fi

# One audio task: prints "wall cpu rss_mib gain".
measure() {
    local vstream=$1 out=$2; shift 2
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$vstream" transcode "$INPUT" -o "$WORK/$out" --progress none \
        --chunk-seconds 60 --ladder 360 --only-audio "$@" > /dev/null
    local gain
    gain=$(python3 -c "import json, sys; m = json.load(open(sys.argv[1])); print(round(m['loudness'][0]['gain'], 4) if m.get('loudness') else '-')" \
        "$WORK/$out/audio.json")
    awk -v gain="$gain" '{ printf "%.2f %.2f %.0f %s\n", $1, $2 + $3, $4 / 1024, gain }' "$WORK/time"
    rm -rf "${WORK:?}/$out"
}

echo "| build | round | wall s | CPU s | peak RSS MiB | gain dB |"
echo "|---|---|---|---|---|---|"
: > "$WORK/rows"
for ((round = 1; round <= ROUNDS; round++)); do
    for build in before after off; do
        case $build in
            before) read -r w c r g < <(measure "$BEFORE" out) ;;
            after) read -r w c r g < <(measure "$AFTER" out) ;;
            off) read -r w c r g < <(measure "$AFTER" out --loudness off) ;;
        esac
        echo "| $build | $round | $w | $c | $r | $g |"
        echo "$build $w $c $r" >> "$WORK/rows"
    done
done
python3 - "$WORK/rows" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def median(build, column):
    return statistics.median(float(row[column]) for row in rows if row[0] == build)
print()
for build, label in (("before", "before"), ("after", "after"), ("off", "after, --loudness off")):
    print(f"median, {label}: wall {median(build, 1):.2f} s, CPU {median(build, 2):.2f} s, peak RSS {median(build, 3):.0f} MiB")
before, after, off = median("before", 1), median("after", 1), median("off", 1)
print(f"after / before wall: {after / before:.3f}; the measurement's share of the task: "
      f"{(before - off) / before:.1%} before, {(after - off) / after:.1%} after")
EOF
