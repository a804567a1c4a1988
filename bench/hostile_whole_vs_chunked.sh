#!/usr/bin/env bash
# Every file of the hostile corpus through the engine twice: whole (--chunk-seconds 0, the
# DASH layout a chunked run also writes) and split and stitched (one-segment chunks, 2 at once:
# most of the corpus lasts 4 s, so longer chunks would give one).
# A user must get the same answer either way: a ladder both times, or the same refusal.
# Prints one row per file and a last line with the count of files whose outcomes differ;
# exits 1 when any differ. Not part of `make test` (about 2 minutes on 2 cores, release build).
#
#   usage: bench/hostile_whole_vs_chunked.sh [VSTREAM] [HOSTILE_DIR]
#   (defaults: .build/release/vstream, fixtures/media/hostile; `make fixtures` makes the corpus)
set -u
vstream=${1:-.build/release/vstream}
corpus=${2:-fixtures/media/hostile}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run: "ok" or the user-facing error line, and its wall time.
outcome() {
    local name=$1; shift
    local start end status message
    start=$(date +%s%N)
    "$vstream" transcode "$@" -o "$work/$name" --ladder 360 --max-duration 3600 --progress none \
        >"$work/$name.out" 2>"$work/$name.err"
    status=$?
    end=$(date +%s%N)
    if [ $status -eq 0 ] && [ -f "$work/$name/master.m3u8" ]; then
        message=ok
    else
        message="exit $status: $(grep -v '^\s*$' "$work/$name.err" | tail -n 1 | cut -c1-160)"
    fi
    rm -rf "$work/$name"
    local tenths=$(((end - start) / 100000000))  # nanoseconds to tenths of a second, in bash (no bc)
    printf '%s\t%d.%d\n' "$message" $((tenths / 10)) $((tenths % 10))
}

differ=0
printf '| file | whole | s | chunked | s |\n|---|---|---|---|---|\n'
for file in "$corpus"/*; do
    [ -f "$file" ] || continue
    case $file in *.json) continue ;; esac  # the corpus's manifest
    base=$(basename "$file")
    IFS=$'\t' read -r whole whole_s < <(outcome "$base.whole" "$file" --dash --chunk-seconds 0)
    IFS=$'\t' read -r chunked chunked_s < <(outcome "$base.chunked" "$file" --chunk-seconds 2 --parallel-chunks 2)
    # A chunked run of a source that cannot be cut falls back to a whole run and says so on
    # stderr; the user's answer (ladder or refusal) is what must match.
    mark=""
    [ "$whole" = "$chunked" ] || { mark=" **differs**"; differ=$((differ + 1)); }
    printf '| %s%s | %s | %s | %s | %s |\n' "$base" "$mark" "$whole" "$whole_s" "$chunked" "$chunked_s"
done
echo "files whose outcome differs whole and chunked: $differ"
[ $differ -eq 0 ]
