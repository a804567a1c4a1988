#!/usr/bin/env bash
# Split and stitch on a bare many-core host (issue 21's one-host goal), in one call:
# the 60 s 1080p bench input, the engine whole (the CMAF ladder) against the engine in
# chunks (several chunk counts), and ffmpeg's one-process ladder, each under GNU time;
# then PSNR of the 1080p and 360p rungs against the source, and segment bytes per rung.
# Builds nothing: it takes the bundle of ../shared/tools/make_bundle.sh (vstream, ffmpeg,
# GNU time) at .bundle/bundle.tar.xz. Tables go to $OUT (or /tmp/split-out).
# The engine measures loudness with libebur128, which make_bundle.sh's keep list lacks (a stub
# would make every measurement fail, and the runs skip the normalised encode), so bundle with a
# copy that keeps it:
#   here:  sed 's/|libgme)/|libgme|libebur128)/' ../shared/tools/make_bundle.sh > /tmp/make_bundle.sh
#          BUNDLE_ROOT=/tmp/b bash /tmp/make_bundle.sh .bundle/bundle.tar.xz .build/release/vstream /usr/bin/ffmpeg /usr/bin/time
#          env -i /tmp/b/bin/vstream transcode fixtures/media/h264_1080p30_stereo.mp4 -o /tmp/t --dash  (after untarring to /tmp/b; its loudness figures must not be 0)
#   there: bash bench/device/split_and_stitch.sh
set -euo pipefail
out=${OUT:-/tmp/split-out}; mkdir -p "$out"
b=/tmp/b; mkdir -p "$b"; tar -xJf .bundle/bundle.tar.xz -C "$b"
export PATH="$b/bin:$PATH"
work=/tmp/split-work; rm -rf "$work"; mkdir -p "$work"
cores=$(nproc); echo "cores $cores" | tee "$out/host.txt"; (grep -m1 'model name' /proc/cpuinfo || true) >> "$out/host.txt"
start=$(date +%s.%N)
bash fixtures/make_bench_input.sh 60 "$work/in60.mp4" >/dev/null
echo "input made in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s" >> "$out/host.txt"
input="$work/in60.mp4"
table="$out/split_and_stitch.md"
echo "| run | wall s | CPU s | cores busy | peak RSS MiB |" > "$table"
echo "|---|---|---|---|---|" >> "$table"
measure() {  # label, command...
  local label=$1; shift
  "$b/bin/time" -f "%e %U %S %M" -o "$work/time.txt" "$@" > "$work/$label.log" 2>&1 || { echo "$label failed: $(tail -3 "$work/$label.log")" >> "$out/host.txt"; return 0; }
  read -r wall user sys rss < "$work/time.txt"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN { printf "| %s | %.2f | %.1f | %.1f | %.0f |\n", l, w, u + s, (u + s) / w, r / 1024 }' >> "$table"
}
measure "engine whole" vstream transcode "$input" -o "$work/whole" --dash --chunk-seconds 0 --progress none
# SPLIT_RUNS: "SECONDS PARALLEL [ENCODER_THREADS [QUEUE_DEPTH]]" per line (ENCODER_THREADS 0 or
# absent: the default, the chunk's share of the cores for every rung).
while read -r seconds parallel threads depth; do
  [ -n "$seconds" ] || continue
  extra=(); label="engine $seconds s chunks x$parallel"
  if [ "${threads:-0}" != 0 ]; then extra+=(--encoder-threads "$threads"); label="$label, $threads x264 threads per rung"; fi
  if [ -n "${depth:-}" ]; then extra+=(--queue-depth "$depth"); label="$label, queue depth $depth"; fi
  measure "$label" vstream transcode "$input" -o "$work/c${seconds}x$parallel${threads:+t$threads}${depth:+q$depth}" --chunk-seconds "$seconds" --parallel-chunks "$parallel" --progress none "${extra[@]}"
done <<< "${SPLIT_RUNS:-20 3
20 3 0 4
15 4
10 6 0 4}"
measure "ffmpeg one process" ffmpeg -nostdin -hide_banner -loglevel error -y -i "$input" -filter_complex '[0:v]split=3[s0][s1][s2];[s0]scale=640:360:flags=bicubic[v0];[s1]scale=1280:720:flags=bicubic[v1];[s2]scale=1920:1080:flags=bicubic[v2]' -map '[v0]' -map '[v1]' -map '[v2]' -map 0:a:0 -map 0:a:0 -map 0:a:0 -c:v libx264 -preset veryfast -pix_fmt yuv420p -flags +cgop -forced-idr 1 -x264-params scenecut=0:open-gop=0:keyint=250 -force_key_frames 'expr:gte(t,n_forced*2)' -b:v:0 800k -maxrate:v:0 856k -bufsize:v:0 1200k -b:v:1 2800k -maxrate:v:1 2996k -bufsize:v:1 4200k -b:v:2 5000k -maxrate:v:2 5350k -bufsize:v:2 7500k -c:a aac -b:a 128k -ar 48000 -ac 2 -f hls -hls_time 2 -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags independent_segments -hls_segment_filename "$work/ff/%v/segment_%05d.m4s" -var_stream_map 'v:0,a:0,name:360p v:1,a:1,name:720p v:2,a:2,name:1080p' -master_pl_name master.m3u8 "$work/ff/%v/index.m3u8"
quality="$out/quality.md"
echo "| ladder | rung | PSNR dB | bytes | seam segments' kbit/s |" > "$quality"
echo "|---|---|---|---|---|" >> "$quality"
for ladder in ${QUALITY_LADDERS:-whole c10x4 c20x3}; do
  for rung in 1080p 360p; do
    [ -f "$work/$ladder/$rung/index.m3u8" ] || continue
    psnr=$(ffmpeg -nostdin -i "$work/$ladder/$rung/index.m3u8" -i "$input" -lavfi "[1:v]scale=$( [ $rung = 1080p ] && echo 1920:1080 || echo 640:360 ):flags=bicubic[ref];[0:v][ref]psnr" -f null - 2>&1 | grep -o 'average:[0-9.]*' | cut -d: -f2)
    bytes=$(cat "$work/$ladder/$rung"/segment_*.m4s | wc -c)
    seams=$(for n in 5 10 15 20 25; do f=$(printf "$work/$ladder/$rung/segment_%05d.m4s" $n); [ -f "$f" ] && echo "$(( $(stat -c %s "$f") * 8 / 2000 ))"; done | tr '\n' ' ')
    echo "| $ladder | $rung | $psnr | $bytes | $seams |" >> "$quality"
  done
done
cat "$table" "$quality"
