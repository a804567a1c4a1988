#!/usr/bin/env bash
# The audio task against chunk 0 carrying the audio (issue 21), on every file of a folder:
# `--only-chunk 0` and `--only-audio`, both with `--ladder 360 --max-duration 3600`, and every
# audio track's files compared byte for byte. The task encodes each track with one encoder
# (`--audio-span-seconds 0`): in spans, a long source's segments after the first span have
# other bits by design (`AudioSpanTests` compares those). Prints each difference, a run only
# one of the two refused, and a count; exits 1 if any file's audio differs.
#
#   usage: bench/audio_task_vs_chunk0.sh [VSTREAM] [DIR] [CHUNK_SECONDS]
#   default: .build/release/vstream, fixtures/media/hostile, 2
V=${1:-.build/release/vstream}; DIR=${2:-fixtures/media/hostile}; S=${3:-2}
W=$(mktemp -d); same=0; differ=0; both_fail=0; odd=0
for f in "$DIR"/*; do
  [ -f "$f" ] || continue
  n=$(basename "$f"); rm -rf "$W"/*
  timeout 120 $V transcode "$f" -o "$W/c0" --only-chunk 0 --chunk-seconds $S --ladder 360 --max-duration 3600 --progress none >/dev/null 2>"$W/e0"; r0=$?
  timeout 120 $V transcode "$f" -o "$W/a" --only-audio --audio-span-seconds 0 --chunk-seconds $S --ladder 360 --max-duration 3600 --progress none >/dev/null 2>"$W/ea"; ra=$?
  if [ $r0 -ne 0 ] && [ $ra -ne 0 ]; then both_fail=$((both_fail+1)); continue; fi
  if [ $r0 -ne 0 ] || [ $ra -ne 0 ]; then echo "ODD $n: chunk0=$r0 $(tail -1 $W/e0) | audio=$ra $(tail -1 $W/ea)"; odd=$((odd+1)); continue; fi
  d=0
  for t in "$W"/c0/audio*; do
    [ -d "$t" ] || continue
    for s in "$t"/*; do cmp -s "$s" "$W/a/$(basename $t)/$(basename $s)" || { d=1; echo "DIFF $n $(basename $t)/$(basename $s)"; break; }; done
  done
  ca=$(find "$W/c0" -maxdepth 1 -type d -name "audio*" | wc -l); aa=$(find "$W/a" -maxdepth 1 -type d -name "audio*" | wc -l)
  [ "$ca" = "$aa" ] || { d=1; echo "TRACKS $n: chunk0 $ca, task $aa"; }
  if [ $d = 0 ]; then same=$((same+1)); else differ=$((differ+1)); fi
done
echo "same $same, differ $differ, both refused $both_fail, one refused $odd"
rm -rf "$W"
[ "$differ" = 0 ]
