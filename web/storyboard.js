// Scrubbing previews: a strip under the player that shows, where the pointer hovers, the
// storyboard tile for that moment (storyboard.vtt: `sheet.jpg#xywh=x,y,w,h` cues, the
// PeerTube/Mux convention), and seeks there on a click. Native controls cannot be
// extended, so the strip sits just below them.

/** Parses our storyboard WebVTT; tiles are resolved against the index's own URL. */
export function parseStoryboard(text, baseURL) {
  const toSeconds = (stamp) => stamp.split(":").reduce((total, part) => total * 60 + Number(part), 0);
  const cues = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.trim().split(/\r?\n/);
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [start, end] = lines[timing].split("-->").map((part) => toSeconds(part.trim().split(/\s/)[0]));
    const [image, fragment] = lines[timing + 1].split("#xywh=");
    const [x, y, w, h] = (fragment || "").split(",").map(Number);
    if (![start, end, x, y, w, h].every(Number.isFinite)) continue;
    cues.push({ start, end, image: new URL(image, baseURL).href, x, y, w, h });
  }
  return cues;
}

/** Shows `url`'s storyboard under `player`; a video without one gets no strip. A click
 * calls `seek(seconds)`. */
export async function attachStoryboard(player, url, seek = (seconds) => { player.currentTime = seconds; }) {
  const strip = document.getElementById("scrub");
  const preview = document.getElementById("scrub-preview");
  strip.hidden = true;
  strip.onpointermove = strip.onpointerleave = strip.onclick = null;
  if (!url) return;
  let cues;
  try {
    const response = await fetch(url);
    if (!response.ok) return;
    cues = parseStoryboard(await response.text(), response.url);
  } catch {
    return; // a nicety: playback goes on without previews
  }
  if (!cues.length) return;
  const duration = () => (Number.isFinite(player.duration) && player.duration > 0 ? player.duration : cues[cues.length - 1].end);
  const timeAt = (event) => {
    const box = strip.getBoundingClientRect();
    return Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1) * duration();
  };
  strip.hidden = false;
  strip.onpointermove = (event) => {
    const time = timeAt(event);
    const cue = cues.find((candidate) => time >= candidate.start && time < candidate.end) || cues[cues.length - 1];
    Object.assign(preview.style, {
      width: `${cue.w}px`, height: `${cue.h}px`,
      backgroundImage: `url("${cue.image}")`, backgroundPosition: `-${cue.x}px -${cue.y}px`,
      left: `${Math.min(Math.max(event.clientX - strip.getBoundingClientRect().left - cue.w / 2, 0), strip.clientWidth - cue.w)}px`,
    });
    preview.dataset.time = time.toFixed(1);
    preview.querySelector("span").textContent = `${Math.floor(time / 60)}:${String(Math.floor(time % 60)).padStart(2, "0")}`;
    preview.hidden = false;
  };
  strip.onpointerleave = () => { preview.hidden = true; };
  strip.onclick = (event) => seek(timeAt(event));
}
