// Watching while it transcodes: the progressive ladder (live.m3u8, EVENT playlists that
// grow a segment at a time, then end with EXT-X-ENDLIST) played through Media Source
// Extensions, one rung and one audio track (the viewer's language, else the default),
// from the first segment to the last.
//
// Why not the browser's own HLS: Chromium's native player treats its start-up as a pause
// in a live stream. Having fetched the segments the playlist named, it asks the playlist
// again for segments it has not seen and, when the transcode has not published one in
// that fraction of a second, fails with DEMUXER_ERROR_COULD_NOT_PARSE; when it has, it
// jumps ahead, skipping what it had (media/filters/hls_rendition_impl.cc, CheckState and
// ResumeLivePlayback). Right after `playable` the playlists name one or two segments, so
// a viewer either sees an error or misses the start. Firefox has no native HLS at all.
// Our segments are CMAF fragments, which MSE takes as they are: this is little code.

import { oneSample, repeated, timescale } from "./held-picture.js";

const POLL_MS = 1000;
/** How far ahead of the playhead segments are fetched; the rest waits. */
const AHEAD_SECONDS = 60;
/** What is kept behind the playhead when the browser's buffer is full. */
const BEHIND_SECONDS = 30;
const FETCH_ATTEMPTS = 4;

/** Whether this browser has Media Source Extensions (iOS Safari has none: native HLS). */
export const canPlayLive = () => typeof MediaSource !== "undefined";

/**
 * Plays the progressive master `url` on `video`. Returns a function that stops following
 * the playlists (the caller moves to another source). `onError(error)` runs when it
 * cannot go on: a rung the browser cannot decode, a segment that failed four times.
 * `onCaptions(captions)` gets the master's caption tracks ({language, name, forced, url}
 * of each whole WebVTT file), for <track> elements.
 */
export function playLive(video, url, { onError = () => {}, onCaptions = () => {} } = {}) {
  const control = { stopped: false };
  run(video, url, control, onCaptions).catch((error) => { if (!control.stopped) onError(error); });
  return () => { control.stopped = true; };
}

async function run(video, address, control, onCaptions) {
  const url = new URL(address, document.baseURI).href; // the API gives paths: "/hls/…"
  const master = parseMaster(await fetchText(url), url);
  if (master.captions.length && !control.stopped) onCaptions(master.captions);
  const variant = pickVariant(master.variants, video);
  if (!variant) throw new Error("the progressive master names no rung");
  const codecs = variant.codecs.split(",").map((codec) => codec.trim()).filter(Boolean);
  const audioCodecs = codecs.filter((codec) => codec.startsWith("mp4a"));
  const videoCodecs = codecs.filter((codec) => !codec.startsWith("mp4a"));
  // A separate audio rendition gets a SourceBuffer of its own; muxed segments, one.
  const audio = pickAudio(master.audio);
  video.dataset.audioLanguage = audio?.language ?? "";
  const tracks = audio
    ? [{ url: variant.url, type: `video/mp4; codecs="${videoCodecs.join(",")}"` },
       { url: audio.url, type: `audio/mp4; codecs="${audioCodecs.join(",") || "mp4a.40.2"}"` }]
    : [{ url: variant.url, type: `video/mp4; codecs="${codecs.join(",")}"` }];
  const unsupported = tracks.find((track) => !MediaSource.isTypeSupported(track.type));
  if (unsupported) throw new Error(`this browser cannot play ${unsupported.type}`);

  const source = new MediaSource();
  const opened = new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  video.src = URL.createObjectURL(source);
  await opened;
  URL.revokeObjectURL(video.src);
  if (control.stopped) return;
  const buffers = tracks.map((track) => source.addSourceBuffer(track.type));
  const following = tracks.map((track, index) => follow(track.url, buffers[index], video, control));
  if (audio) {
    // A still picture's playlist ends long before its sound's: hold the picture meanwhile.
    let soundEnded = false;
    const soundDone = () => { soundEnded = true; };
    following[1].then(soundDone, soundDone);
    following.push(following[0].then((picture) => holdPicture(picture, buffers[0], buffers[1], video, control, () => soundEnded)));
  }
  await Promise.all(following);
  if (!control.stopped && source.readyState === "open") source.endOfStream();
}

/** Appends the playlist's segments in order as it grows, until EXT-X-ENDLIST. Returns the
 * init segment and the last fragment it appended. */
async function follow(url, buffer, video, control) {
  let appended = 0;
  let init = null;
  let last = null;
  for (;;) {
    if (control.stopped) return { init, last };
    const playlist = parseMedia(await fetchText(url), url);
    if (!init && playlist.map) {
      init = await fetchBytes(playlist.map);
      await append(buffer, init, video);
    }
    while (appended < playlist.segments.length) {
      await waitForRoom(buffer, video, control);
      if (control.stopped) return { init, last };
      last = await fetchBytes(playlist.segments[appended]);
      await append(buffer, last, video);
      appended += 1;
    }
    if (playlist.ended) return { init, last };
    await sleep(POLL_MS);
  }
}

/**
 * The picture's playlist has ended: while the sound is buffered further, the picture's
 * one-frame fragment is appended again after it, lasting to the sound's buffered end
 * (held-picture.js), so the playhead goes on with the sound. A last fragment of several
 * frames (a picture that stops early, not a still one) is left as it is.
 */
async function holdPicture({ init, last }, pictureBuffer, soundBuffer, video, control, soundEnded) {
  const scale = init && last ? timescale(init) : null;
  const sample = scale ? oneSample(last) : null;
  if (!sample) return;
  const pictureEnd = bufferedEnd(pictureBuffer);
  let next = sample.start + sample.duration; // where the next copy starts, in ticks
  let heldTo = pictureEnd;
  for (;;) {
    if (control.stopped) return;
    const ended = soundEnded();
    const soundEnd = bufferedEnd(soundBuffer);
    if (soundEnd > heldTo + (ended ? 0.001 : HOLD_STEP_SECONDS)) {
      const duration = Math.round((soundEnd - heldTo) * scale);
      const copy = repeated(last, next, duration);
      if (!copy) return;
      await append(pictureBuffer, copy, video);
      next += duration;
      heldTo += duration / scale;
    }
    if (ended) return;
    await sleep(POLL_MS);
  }
}

/** How far the sound runs past the held picture before the picture is held further. */
const HOLD_STEP_SECONDS = 1;

const bufferedEnd = (buffer) => (buffer.buffered.length ? buffer.buffered.end(buffer.buffered.length - 1) : 0);

/** Waits while the buffer already holds AHEAD_SECONDS past the playhead. */
async function waitForRoom(buffer, video, control) {
  while (!control.stopped && buffer.buffered.length
         && buffer.buffered.end(buffer.buffered.length - 1) - video.currentTime > AHEAD_SECONDS) {
    await sleep(POLL_MS);
  }
}

/** One append; a full buffer first drops what lies well behind the playhead. */
async function append(buffer, bytes, video) {
  try {
    await whenUpdated(buffer, () => buffer.appendBuffer(bytes));
  } catch (error) {
    if (error.name !== "QuotaExceededError" || video.currentTime <= BEHIND_SECONDS) throw error;
    await whenUpdated(buffer, () => buffer.remove(0, video.currentTime - BEHIND_SECONDS));
    await whenUpdated(buffer, () => buffer.appendBuffer(bytes));
  }
}

/** Runs `operation` on the SourceBuffer and waits for its `updateend`. */
function whenUpdated(buffer, operation) {
  return new Promise((resolve, reject) => {
    const done = () => { buffer.removeEventListener("error", failed); resolve(); };
    const failed = () => {
      buffer.removeEventListener("updateend", done);
      reject(new Error("the browser could not decode a segment"));
    };
    buffer.addEventListener("updateend", done, { once: true });
    buffer.addEventListener("error", failed, { once: true });
    try {
      operation();
    } catch (error) {
      buffer.removeEventListener("updateend", done);
      buffer.removeEventListener("error", failed);
      reject(error);
    }
  });
}

/** The rung for this player: the lowest at least as tall as it is shown (360p at least). */
function pickVariant(variants, video) {
  const sorted = [...variants].sort((a, b) => a.height - b.height);
  const wanted = Math.max(360, (video.clientHeight || 0) * (window.devicePixelRatio || 1));
  return sorted.find((variant) => variant.height >= wanted) ?? sorted[sorted.length - 1];
}

/**
 * The audio track in the first of the browser's languages that the ladder has, else the
 * default. The ladder's LANGUAGE is the source's ISO 639-2 tag ("fra"); Intl.Locale
 * gives both it and the browser's BCP 47 ("fr-FR") as the same language ("fr").
 */
export function pickAudio(tracks, languages = navigator.languages ?? [navigator.language]) {
  if (!tracks.length) return null;
  const base = (tag) => { try { return new Intl.Locale(tag).language; } catch { return null; } };
  for (const wanted of languages.map(base).filter(Boolean)) {
    const match = tracks.find((track) => track.language && base(track.language) === wanted);
    if (match) return match;
  }
  return tracks.find((track) => track.isDefault) ?? tracks[0];
}

/** RFC 8216 §4.2 attribute lists: KEY=VALUE, KEY="quoted, value". */
function attributes(text) {
  const result = {};
  for (const [, key, value] of text.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    result[key] = value.startsWith('"') ? value.slice(1, -1) : value;
  }
  return result;
}

function parseMaster(text, base) {
  const lines = text.split("\n").map((line) => line.trim());
  const variants = [];
  const audio = [];
  const captions = [];
  lines.forEach((line, index) => {
    if (line.startsWith("#EXT-X-MEDIA:")) {
      const media = attributes(line.slice(13));
      if (media.TYPE === "AUDIO" && media.URI) {
        audio.push({ url: new URL(media.URI, base).href, language: media.LANGUAGE || null, isDefault: media.DEFAULT === "YES" });
      }
      // A caption track's whole file lies beside its folder: captions/eng/live.m3u8 → captions/eng.vtt.
      if (media.TYPE === "SUBTITLES" && media.URI?.endsWith("/live.m3u8")) {
        captions.push({ url: new URL(media.URI.replace(/\/live\.m3u8$/, ".vtt"), base).href, language: media.LANGUAGE || "und",
                        name: media.NAME || media.LANGUAGE || "Captions", forced: media.FORCED === "YES",
                        hearingImpaired: (media.CHARACTERISTICS || "").includes("public.accessibility.transcribes-spoken-dialog") });
      }
    } else if (line.startsWith("#EXT-X-STREAM-INF:")) {
      const stream = attributes(line.slice(18));
      const uri = lines.slice(index + 1).find((next) => next && !next.startsWith("#"));
      if (!uri) return;
      const height = Number((stream.RESOLUTION || "0x0").split("x")[1]) || 0;
      variants.push({ url: new URL(uri, base).href, codecs: stream.CODECS || "", height });
    }
  });
  return { variants, audio, captions };
}

function parseMedia(text, base) {
  const segments = [];
  let map = null;
  let ended = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#EXT-X-MAP:")) {
      const uri = attributes(line.slice(11)).URI;
      if (uri) map = new URL(uri, base).href;
    } else if (line === "#EXT-X-ENDLIST") {
      ended = true;
    } else if (line && !line.startsWith("#")) {
      segments.push(new URL(line, base).href);
    }
  }
  return { segments, map, ended };
}

/** GET with a few retries: a playlist or segment may be a moment late to storage. */
async function fetchOK(url) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (response.ok) return response;
      if (attempt >= FETCH_ATTEMPTS || (response.status !== 404 && response.status < 500)) {
        throw new Error(`${response.status} for ${new URL(url).pathname.split("/").slice(-2).join("/")}`);
      }
    } catch (error) {
      if (attempt >= FETCH_ATTEMPTS || error.name !== "TypeError") throw error;
    }
    await sleep(250 * 2 ** attempt);
  }
}

const fetchText = async (url) => (await fetchOK(url)).text();
const fetchBytes = async (url) => new Uint8Array(await (await fetchOK(url)).arrayBuffer());
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
