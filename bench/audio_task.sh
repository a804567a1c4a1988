#!/usr/bin/env bash
# The audio as a task of its own (issue 21): what each task of a split-and-stitch run costs,
# with chunk 0 carrying the whole file's audio and with the audio task apart, one task at a
# time (no task slows another), then the critical path a host with a core per task would see.
#
#   usage: bench/audio_task.sh [VSTREAM] [INPUT] [CHUNK_SECONDS] [TRANSCODE OPTIONS...]
#   default: .build/release/vstream, fixtures/media/bench_1080p_60s.mp4, 20
#
# Prints one Markdown table (wall s, CPU s, peak RSS MiB per task) and the two critical
# paths: chunk 0 with the audio against max(chunk 0 apart, audio task). Needs /usr/bin/time.
set -euo pipefail
VSTREAM=${1:-.build/release/vstream}
INPUT=${2:-fixtures/media/bench_1080p_60s.mp4}
SECONDS_PER_CHUNK=${3:-20}
shift $(( $# < 3 ? $# : 3 ))
EXTRA=("$@")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# One task: prints "wall cpu rss_mib".
measure() {
    local out=$1; shift
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$VSTREAM" transcode "$INPUT" -o "$WORK/$out" --progress none \
        --chunk-seconds "$SECONDS_PER_CHUNK" "${EXTRA[@]}" "$@" > /dev/null
    awk '{ printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$WORK/time"
}

echo "| task | wall s | CPU s | peak RSS MiB |"
echo "|---|---|---|---|"
read -r w0 c0 r0 < <(measure with-audio --only-chunk 0)
echo "| chunk 0, with the whole file's audio | $w0 | $c0 | $r0 |"
chunks=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['chunkCount'])" "$WORK/with-audio/chunk.json")
read -r wa ca ra < <(measure apart --only-chunk 0 --audio-apart)
echo "| chunk 0, audio apart | $wa | $ca | $ra |"
read -r wt ct rt < <(measure audio --only-audio)
echo "| audio task | $wt | $ct | $rt |"
longest_other=0
for ((k = 1; k < chunks; k++)); do
    read -r w c r < <(measure "c$k" --only-chunk "$k")
    echo "| chunk $k | $w | $c | $r |"
    longest_other=$(python3 -c "print(max($longest_other, $w))")
done
python3 - "$w0" "$wa" "$wt" "$longest_other" "$c0" "$ca" "$ct" <<'EOF'
import sys
w0, wa, wt, other, c0, ca, ct = map(float, sys.argv[1:])
before = max(w0, other)
after = max(wa, wt, other)
print()
print(f"critical path, a core per task: chunk 0 with the audio {before:.2f} s; audio apart {after:.2f} s "
      f"({after / before:.3f}x)")
print(f"CPU of chunk 0 and the audio: {c0:.2f} s together, {ca + ct:.2f} s apart ({(ca + ct) / c0:.3f}x)")
EOF
