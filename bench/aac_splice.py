"""Can a film's audio be cut into spans, encoded at once, and spliced without a seam?
(issue 21, not part of `make test`; it measures FFmpeg's AAC encoder, not the engine.)

    python3 bench/aac_splice.py [INPUT] [--seconds 120] [--spans 12] [--gain DB] [--preroll 0,32,235,470]

The audio task encodes a whole film's audio on one thread, and at about 1.3 s a minute it is
the critical path of a long film on many hosts (docs/performance.md). Cutting it the way av1an
and SVT Encore cut audio, as separate files joined end to end, leaves a priming gap at every
seam. This measures the other way: each span's encoder starts `preroll` AAC frames (1,024
samples each) before its span, on the whole run's frame grid, and its first packets are thrown
away, so the spliced stream has the whole run's packet count and timing, with no gap or
priming inside.

What it compares: the whole encode and the spliced one, decoded, each against the source:
- at each seam, the SNR of the two AAC frames either side (the decoder crossfades the two
  encoders' frames there: a gap or a misplaced frame shows as a collapse);
- over the spans, the whole track's signal-to-noise ratio: FFmpeg's encoder steers its bit
  allocation slowly, so an encoder started shortly before its span codes the seconds that
  follow differently from one that has run since the start (worse, on an AAC source).
Without INPUT, it makes the plucked and warbling tones of `AudioSpanTests` (AAC codes them as
waveforms, so the error against the source is the coding's), as 192 kbit/s AAC, as an upload
would carry them. `--gain` applies a loudness gain first, as the audio task does. Needs the
ffmpeg CLI and numpy. The table goes to stdout.
"""
import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RATE, FRAME = 48_000, 1024
# The samples either side of a seam that its two encoders' frames overlap (two AAC frames).
REACH = 2 * FRAME


def made_source(folder: Path, seconds: float) -> Path:
    path = folder / "tones.m4a"
    left = "0.3*sin(2*PI*220*t)*exp(-8*mod(t\\,0.37))+0.15*sin(2*PI*1375*t+3*sin(2*PI*2*t))"
    right = "0.25*sin(2*PI*330*t)*exp(-6*mod(t\\,0.29))+0.1*sin(2*PI*2750*t)"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"aevalsrc='{left}|{right}':s={RATE}:d={seconds}", "-c:a", "aac", "-b:a", "192k", str(path)], check=True)
    return path


def source_pcm(path: Path, seconds: float) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", str(seconds), "-vn",
                          "-ac", "2", "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2)


def encode(samples: np.ndarray) -> list:
    """AAC-LC 128 kbit/s (the engine's settings) as ADTS, split into its frames."""
    adts = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "2", "-i", "-",
                           "-c:a", "aac", "-b:a", "128k", "-f", "adts", "-"],
                          input=samples.astype("<f4").tobytes(), capture_output=True, check=True).stdout
    frames, at = [], 0
    while at + 7 <= len(adts):
        if adts[at] != 0xFF or adts[at + 1] & 0xF0 != 0xF0:
            raise ValueError(f"no ADTS sync word at byte {at}")
        length = ((adts[at + 3] & 3) << 11) | (adts[at + 4] << 3) | (adts[at + 5] >> 5)
        frames.append(adts[at:at + length])
        at += length
    return frames


def decode(frames: list, count: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "aac", "-i", "-", "-f", "f32le", "-"],
                         input=b"".join(frames), capture_output=True, check=True).stdout
    # ADTS carries no edit list: the encoder's first frame (1,024 samples) is its priming.
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2)[FRAME:FRAME + count]


def spliced(source: np.ndarray, whole: list, cuts: list, preroll: int) -> list:
    """The whole run's frames up to the first cut, then each span's from its cut on.

    Frame i of an encode decodes to the samples [(i - 1) * FRAME, i * FRAME) of its input, so
    a span encoded from frame `start` of the source continues the whole run after frame `cut`
    with its own frame `cut - start + 1`."""
    frames = list(whole[:cuts[0] + 1])
    for position, cut in enumerate(cuts):
        start = max(0, cut - preroll)
        end = cuts[position + 1] if position + 1 < len(cuts) else None
        span = encode(source[start * FRAME:(end + 2) * FRAME if end is not None else None])
        frames += span[cut - start + 1:(end - start + 1) if end is not None else len(span)]
    if len(frames) != len(whole):
        raise ValueError(f"the splice has {len(frames)} frames where the whole encode has {len(whole)}")
    return frames


def snr(decoded: np.ndarray, reference: np.ndarray) -> float:
    noise = float(np.sum((decoded - reference) ** 2))
    return 10 * np.log10(float(np.sum(reference ** 2)) / max(noise, 1e-20))


def around(decoded: np.ndarray, reference: np.ndarray, seam: int) -> float:
    """The SNR of the two frames either side of the seam."""
    return snr(decoded[seam - REACH:seam + REACH], reference[seam - REACH:seam + REACH])


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("input", nargs="?", help="a media file whose audio is the test signal")
    arguments.add_argument("--seconds", type=float, default=120)
    arguments.add_argument("--spans", type=int, default=12)
    arguments.add_argument("--gain", type=float, default=0, help="dB applied to the source first (the loudness gain)")
    arguments.add_argument("--preroll", default="0,32,235,470", help="AAC frames each span starts before its cut")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(options.input) if options.input else made_source(Path(folder), options.seconds)
        source = source_pcm(path, options.seconds) * np.float32(10 ** (options.gain / 20))
    whole = encode(source)
    frames = len(source) // FRAME
    cuts = [round(frames * k / options.spans) for k in range(1, options.spans)]
    decoded_whole = decode(whole, len(source))
    count = len(decoded_whole)
    reference = source[:count]
    print(f"{len(source) / RATE:.1f} s, gain {options.gain} dB, {options.spans} spans, seams at "
          + ", ".join(f"{cut * FRAME / RATE:.1f} s" for cut in cuts))
    print()
    print("| pre-roll (AAC frames) | pre-roll s | SNR whole dB | SNR spliced dB "
          "| at the seams, spliced − whole: mean dB | worst seam dB |")
    print("|---|---|---|---|---|---|")
    for preroll in (int(value) for value in options.preroll.split(",")):
        decoded = decode(spliced(source, whole, cuts, preroll), count)[:count]
        seams = [around(decoded, reference, cut * FRAME) - around(decoded_whole, reference, cut * FRAME) for cut in cuts]
        print(f"| {preroll} | {preroll * FRAME / RATE:.2f} | {snr(decoded_whole, reference):.2f} "
              f"| {snr(decoded, reference):.2f} | {np.mean(seams):+.2f} | {min(seams):+.2f} |")


if __name__ == "__main__":
    main()
