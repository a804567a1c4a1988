// The vstream page: resumable direct-to-storage uploads, live transcode progress,
// playback, the caller's own videos and the public ones, and /watch/{id}.
// Plain ES modules, no build step. Credentials: see api.js.
//
// Upload protocol (the same against R2 and the embedded default):
//   POST /api/uploads            -> {videoId, partSize, partCount, ownerToken?}
//   GET  /api/uploads/:id/parts  -> the parts storage already has (resume)
//   POST /api/uploads/:id/sign   -> presigned part URLs, in batches, on demand
//   PUT  <signed url>            -> one 10 MiB part; the ETag header identifies it
//   POST /api/uploads/:id/complete
import { api, appToken, followEvents, ownerTokens } from "./api.js";
import { attachCaptions, captionForm } from "./captions.js";
import { attachAudioTracks } from "./audio-tracks.js";
import { attachStoryboard } from "./storyboard.js";
import { canPlayLive, playLive } from "./live-player.js";

const PARALLEL = 4;
const SIGN_BATCH = 20;
const $ = (id) => document.getElementById(id);

const fingerprint = (file) => `vstream.upload:${file.name}:${file.size}:${file.lastModified}`;

class Upload {
  constructor(file) {
    this.file = file;
    this.paused = false;
    this.cancelled = false;
    this.inFlight = new Map(); // partNumber -> XMLHttpRequest
    this.loaded = new Map();   // partNumber -> bytes sent so far
    this.urls = new Map();     // partNumber -> {url, expiresAt}
    this.done = new Map();     // partNumber -> etag
    this.samples = [];
  }

  async start() {
    const key = fingerprint(this.file);
    const saved = JSON.parse(localStorage.getItem(key) || "null");
    if (saved) {
      try {
        const { parts } = await api("GET", `/api/uploads/${saved.videoId}/parts`, undefined, saved.videoId);
        Object.assign(this, saved);
        for (const part of parts) {
          this.done.set(part.partNumber, part.etag);
          this.loaded.set(part.partNumber, part.size);
        }
        $("resumed").hidden = false;
      } catch {
        localStorage.removeItem(key); // gone or finished: start over
      }
    }
    if (!this.videoId) {
      const created = await api("POST", "/api/uploads", {
        filename: this.file.name, size: this.file.size, lastModified: this.file.lastModified,
        contentType: this.file.type || "video/mp4", title: this.file.name, visibility: $("visibility").value,
      });
      // Shown once: the only credential of an anonymous upload.
      if (created.ownerToken) ownerTokens.set(created.videoId, created.ownerToken);
      Object.assign(this, { videoId: created.videoId, partSize: created.partSize, partCount: created.partCount });
      localStorage.setItem(key, JSON.stringify({ videoId: this.videoId, partSize: this.partSize, partCount: this.partCount }));
    }
    this.started = performance.now();
    this.report();
    await this.run();
  }

  pending() {
    const parts = [];
    for (let n = 1; n <= this.partCount; n++) if (!this.done.has(n) && !this.inFlight.has(n)) parts.push(n);
    return parts;
  }

  async run() {
    const workers = Array.from({ length: PARALLEL }, () => this.worker());
    await Promise.all(workers);
    if (this.cancelled || this.paused || this.done.size < this.partCount) return;
    // Complete with what storage says it has, not what we remember.
    const { parts } = await api("GET", `/api/uploads/${this.videoId}/parts`, undefined, this.videoId);
    await api("POST", `/api/uploads/${this.videoId}/complete`, {
      parts: parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
    }, this.videoId);
    localStorage.removeItem(fingerprint(this.file));
    $("pause").hidden = $("resume").hidden = $("cancel").hidden = true;
    followTranscode(this.videoId);
  }

  async worker() {
    while (!this.paused && !this.cancelled) {
      const [next] = this.pending();
      if (next === undefined) return;
      this.inFlight.set(next, null);
      try {
        const etag = await this.sendWithRetry(next);
        this.done.set(next, etag);
      } catch (error) {
        if (!this.paused && !this.cancelled) showError(`part ${next}: ${error.message}`);
        this.inFlight.delete(next);
        this.loaded.set(next, 0);
        return;
      }
      this.inFlight.delete(next);
      this.report();
    }
  }

  async signedURL(partNumber, force = false) {
    const cached = this.urls.get(partNumber);
    if (!force && cached && cached.expiresAt - Date.now() > 60_000) return cached.url;
    const batch = [partNumber, ...this.pending().filter((n) => n !== partNumber && !this.urls.has(n))].slice(0, SIGN_BATCH);
    const { urls, expiresAt } = await api("POST", `/api/uploads/${this.videoId}/sign`, { partNumbers: batch }, this.videoId);
    for (const [n, url] of Object.entries(urls)) this.urls.set(Number(n), { url, expiresAt: Date.parse(expiresAt) });
    return this.urls.get(partNumber).url;
  }

  async sendWithRetry(partNumber) {
    for (let attempt = 0; ; attempt++) {
      const url = await this.signedURL(partNumber, attempt > 0);
      try {
        return await this.send(partNumber, url);
      } catch (error) {
        if (this.paused || this.cancelled || attempt >= 4) throw error;
        // 403: the URL expired (re-signed above); other failures: back off and retry.
        if (error.status !== 403) await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }

  send(partNumber, url) {
    const start = (partNumber - 1) * this.partSize;
    const blob = this.file.slice(start, Math.min(start + this.partSize, this.file.size));
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.inFlight.set(partNumber, xhr);
      xhr.open("PUT", url);
      xhr.upload.onprogress = (event) => { this.loaded.set(partNumber, event.loaded); this.report(); };
      xhr.onload = () => {
        const etag = xhr.getResponseHeader("ETag");
        if (xhr.status >= 200 && xhr.status < 300 && etag) resolve(etag.replaceAll('"', ""));
        else reject(Object.assign(new Error(`HTTP ${xhr.status}`), { status: xhr.status }));
      };
      xhr.onerror = () => reject(new Error("network error"));
      xhr.onabort = () => reject(new Error("aborted"));
      xhr.send(blob);
    });
  }

  pause() {
    this.paused = true;
    for (const xhr of this.inFlight.values()) xhr?.abort();
  }

  resume() {
    this.paused = false;
    this.run().catch((error) => showError(error.message));
  }

  async cancel() {
    this.cancelled = true;
    for (const xhr of this.inFlight.values()) xhr?.abort();
    localStorage.removeItem(fingerprint(this.file));
    if (this.videoId) {
      await api("DELETE", `/api/uploads/${this.videoId}`, undefined, this.videoId).catch(() => {});
      ownerTokens.forget(this.videoId);
    }
    $("job").hidden = true;
    refreshLists();
  }

  report() {
    let sent = 0;
    for (const [n, bytes] of this.loaded) if (this.done.has(n) || this.inFlight.has(n)) sent += bytes;
    const percent = this.file.size ? (100 * sent) / this.file.size : 100;
    $("upload-bar").style.width = `${percent}%`;
    $("upload-text").textContent = `uploaded ${percent.toFixed(1)}% (${this.done.size}/${this.partCount} parts)`;
    const now = performance.now();
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now > t0 ? ((sent - b0) * 1000) / (now - t0) : 0;
    $("speed").textContent = speed > 0 ? `${(speed / 1048576).toFixed(1)} MiB/s` : "";
    $("eta").textContent = speed > 0 ? `ETA ${Math.ceil((this.file.size - sent) / speed)} s` : "";
  }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function followTranscode(videoId) {
  $("transcode-text").textContent = "transcoding…";
  let watching = false;
  let finalURL = null;
  let fellBehind = false;
  let finished = false; // READY: the finished ladder exists
  const update = (data) => {
    $("transcode-bar").style.width = `${data.percent}%`;
    // A chunked video (split and stitch) is encoded by several workers: say how far.
    const chunks = data.chunks ? `, ${data.chunks.done}/${data.chunks.total} chunks` : "";
    const frames = data.framesTotal
      ? ` (${data.framesDone}/${data.framesTotal} frames${chunks}, ${(data.fps || 0).toFixed(1)} fps)` : "";
    $("transcode-text").textContent = `${data.stage || data.status.toLowerCase()} ${data.percent.toFixed(1)}%${frames}`;
    if (watching && !fellBehind) $("rendition-state").textContent = `watching while transcoding (${data.percent.toFixed(0)}%)`;
  };
  // Playable before READY: start on the progressive master, and keep it to the end (its
  // EVENT playlists end with EXT-X-ENDLIST), so READY needs no reload.
  const startWatching = (url) => {
    if (watching) return;
    if (!canPlayHLS() && !canPlayLive()) {
      $("rendition-state").textContent = "this browser has no HLS: the MP4 plays once the video is transcoded";
      return;
    }
    watching = true;
    window.vstreamStartedLive = true;
    $("rendition-state").textContent = "watching while transcoding";
    // A transcode slower than the video only makes the player wait (live-player.js). If
    // following the playlists fails (a segment that never arrives), the finished ladder
    // takes over where it stopped.
    const onLiveFailure = () => {
      fellBehind = true;
      $("rendition-state").textContent = "the live stream stopped: resuming when the video is transcoded";
      if (finished) resumeFinished().catch((error) => showError(error.message));
    };
    playbackURLs(videoId, { playbackUrl: url }).then((urls) => play(urls, { onLiveFailure }))
      .catch((error) => showError(error.message));
  };
  // A private video's `ready` carries no URL: a playback grant gives the finished ladder's.
  const resumeFinished = async () => {
    const player = $("player");
    const position = player.currentTime;
    play(await playbackURLs(videoId, { playbackUrl: finalURL }), { keepExtras: true });
    player.addEventListener("loadedmetadata", () => { player.currentTime = position; }, { once: true });
    $("rendition-state").textContent = "";
  };
  const stop = followEvents(videoId, (kind, data) => {
    if (kind === "playable") startWatching(data.playbackUrl);
    if ((kind === "state" || kind === "progress") && data.playbackUrl && data.status === "PROCESSING") startWatching(data.playbackUrl);
    if (kind === "state" || kind === "progress" || kind === "playable") update(data);
    if (kind === "ready") {
      stop();
      $("transcode-bar").style.width = "100%";
      $("transcode-text").textContent = "ready: transcoding 100%";
      finalURL = data.playbackUrl;
      finished = true;
      if (watching && fellBehind) resumeFinished().catch((error) => showError(error.message));
      else if (watching) $("rendition-state").textContent = "transcoded: playing on to the end";
      if (!watching) {
        api("GET", `/api/videos/${videoId}`, undefined, videoId).then((video) => playVideo(videoId, video))
          .catch((error) => showError(error.message));
      } else {
        // A player still on the growing playlists holds one rung and what it fetched: a
        // seek from the storyboard moves it to the finished, adaptive ladder.
        showExtras(videoId, (seconds) => {
          const player = $("player");
          if (player.dataset.live !== "true") { player.currentTime = seconds; return; }
          playbackURLs(videoId, { playbackUrl: finalURL }).then((urls) => {
            play(urls, { keepExtras: true });
            player.addEventListener("loadedmetadata", () => { player.currentTime = seconds; }, { once: true });
          }).catch((error) => showError(error.message));
        }).then((urls) => {
          // A still picture with long sound: the growing ladder's player stops once the
          // picture's segment has played (MSE buffers no further than the video). The MP4
          // plays on from there.
          const player = $("player");
          if (!urls || !soundOutlastsPicture(urls) || player.dataset.live !== "true") return;
          const position = player.currentTime;
          play(urls, { keepExtras: true });
          player.addEventListener("loadedmetadata", () => { player.currentTime = position; }, { once: true });
          $("rendition-state").textContent = "";
        });
      }
      refreshLists();
    }
    if (kind === "failed") {
      stop();
      stopLive(); // its playlists will not grow again
      showError(`transcoding failed: ${data.error}`);
      refreshLists();
    }
  });
}

/** A video's URLs: its public ones, or (private) a playback grant's, asked for now. */
async function playbackURLs(videoId, video) {
  if (video?.playbackUrl) return video;
  const grant = await api("POST", `/api/videos/${videoId}/playback`, {}, videoId);
  return { ...video, ...grant };
}

/** Plays a video (a `GET /api/videos/{id}` body, or just a playback URL). */
async function playVideo(videoId, video) {
  play(await playbackURLs(videoId, video));
}

/** A video that became READY while it played live: its storyboard and its download link.
 * Returns its URLs, or null when they could not be had. */
async function showExtras(videoId, seek) {
  try {
    const urls = await playbackURLs(videoId, await api("GET", `/api/videos/${videoId}`, undefined, videoId));
    attachStoryboard($("player"), urls.storyboardUrl, seek);
    await attachCaptions($("player"), $("captions-menu"), urls.captions);
    showAudioTracks(urls);
    showDownload(urls);
    return urls;
  } catch {
    return null; // niceties: playback goes on without them
  }
}

/** The language menu, or the line naming the track that plays. */
function showAudioTracks(urls) {
  const playsMP4 = !canPlayHLS() || soundOutlastsPicture(urls);
  attachAudioTracks($("player"), $("audio-menu"), $("audio-note"), urls.audioTracks, { playsMP4 });
}

/** A still picture with long audio (a podcast's cover): every rung's video ends seconds
 * before the sound. Chromium's own HLS player then stalls once the picture has played,
 * waiting for video that never comes, while the MP4 plays the sound to its end; such a
 * video has no picture worth adapting, so the page plays its MP4. */
function soundOutlastsPicture(urls) {
  const rungs = (urls.renditions ?? []).map((rung) => rung.durationSeconds);
  if (!urls.durationSeconds || rungs.length === 0 || rungs.some((seconds) => typeof seconds !== "number")) return false;
  return Math.max(...rungs) + 2 < urls.durationSeconds;
}

const canPlayHLS = () => $("player").canPlayType("application/vnd.apple.mpegurl") !== "";
const canPlayMP4 = () => $("player").canPlayType('video/mp4; codecs="avc1.640028, mp4a.40.2"') !== "";

/** The download link: the MP4 rendition, saved as a file (`?download=1` where this server serves it). */
function showDownload(urls) {
  const link = $("download");
  link.hidden = !urls.downloadUrl;
  if (!urls.downloadUrl) return;
  link.href = urls.downloadUrl.startsWith("/") ? `${urls.downloadUrl}?download=1` : urls.downloadUrl;
  const size = urls.downloadBytes ? `, ${(urls.downloadBytes / 1e6).toFixed(1)} MB` : "";
  link.textContent = `Download MP4${urls.downloadRendition ? ` (${urls.downloadRendition}${size})` : ""}`;
}
window.vstreamWatching = () => $("rendition-state").textContent; // for tests

/** Stops following the progressive ladder (live-player.js) when another source plays. */
let stopLive = () => {};

/** Plays HLS where the browser can, the MP4 rendition otherwise, and says which.
 * `keepExtras`: the same video on another URL, so its storyboard and link stay. */
function play(urls, { keepExtras = false, onLiveFailure = () => {} } = {}) {
  const player = $("player");
  stopLive();
  stopLive = () => {};
  $("player-section").hidden = false;
  if (!keepExtras) showDownload(urls);
  let source;
  const live = Boolean(urls.playbackUrl?.endsWith("/live.m3u8"));
  if (live && canPlayLive()) {
    source = urls.playbackUrl;
    $("playback-kind").textContent = "HLS while transcoding (one rendition)";
  } else if (soundOutlastsPicture(urls) && urls.downloadUrl && canPlayMP4()) {
    source = urls.downloadUrl;
    $("playback-kind").textContent = `MP4${urls.downloadRendition ? ` ${urls.downloadRendition}` : ""} (the sound plays on past the picture)`;
  } else if (canPlayHLS()) {
    source = urls.playbackUrl;
    $("playback-kind").textContent = "HLS (adaptive)";
  } else if (urls.downloadUrl && canPlayMP4()) {
    source = urls.downloadUrl;
    $("playback-kind").textContent = `MP4${urls.downloadRendition ? ` ${urls.downloadRendition}` : ""} (this browser has no HLS)`;
  } else {
    $("playback-kind").textContent = "";
    showError(urls.downloadUrl || !urls.playbackUrl
      ? "This browser can play neither HLS nor MP4 (H.264 and AAC) video. Use the download link, or another browser."
      : "This browser cannot play HLS; the MP4 plays here once the video is transcoded.");
    return;
  }
  player.dataset.source = source;
  player.dataset.live = String(live);
  if (live && canPlayLive()) {
    // The early master names the caption tracks: the viewer has them while it transcodes.
    const onCaptions = keepExtras ? () => {} : (captions) => {
      if (!urls.captions?.length) attachCaptions(player, $("captions-menu"), captions).catch(() => {});
    };
    stopLive = playLive(player, source, { onError: onLiveFailure, onCaptions });
  } else {
    player.src = source;
  }
  player.play().catch(() => {});
  if (!keepExtras) {
    showAudioTracks(urls);
    attachStoryboard(player, urls.storyboardUrl);
    attachCaptions(player, $("captions-menu"), urls.captions).catch(() => {});
  }
}

/** The caller's own videos: by the app's JWT, or by the owner tokens this browser keeps. */
async function myVideos() {
  if (appToken()) return (await api("GET", "/api/videos?owner=me")).videos;
  const videos = [];
  for (const id of ownerTokens.videoIds()) {
    try {
      videos.push(await api("GET", `/api/videos/${id}`, undefined, id));
    } catch (error) {
      if (error.status === 404 || error.status === 403) ownerTokens.forget(id); // deleted, or not ours
    }
  }
  return videos.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

function videoItem(video) {
  const item = document.createElement("li");
  item.dataset.videoId = video.id;
  if (video.posterUrl) {
    const poster = document.createElement("img");
    poster.src = video.posterUrl;
    poster.alt = "";
    poster.className = "poster";
    item.append(poster);
  }
  const title = document.createElement("a");
  title.className = "title";
  title.href = `/watch/${video.id}`;
  title.textContent = video.title;
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = `${video.status}${video.status === "PROCESSING" ? ` ${video.progress.toFixed(0)}%` : ""} · ${video.visibility}`;
  item.append(title, state);
  if (video.status === "READY") {
    const button = document.createElement("button");
    button.textContent = "Play";
    button.className = "play";
    button.onclick = () => playVideo(video.id, video).catch((error) => showError(error.message));
    item.append(button);
  }
  if (video.canEdit) item.append(editControls(video));
  if (video.error) {
    const error = document.createElement("small");
    error.textContent = video.error;
    item.append(error);
  }
  return item;
}

/** Rename, visibility and delete: shown only where the API says the caller may edit. */
function editControls(video) {
  const controls = document.createElement("span");
  controls.className = "edit";
  const name = document.createElement("input");
  name.className = "rename-input";
  name.value = video.title;
  name.setAttribute("aria-label", "title");
  const rename = document.createElement("button");
  rename.className = "rename";
  rename.textContent = "Rename";
  rename.onclick = () => change(video.id, { title: name.value });
  const visibility = document.createElement("select");
  visibility.className = "visibility";
  visibility.setAttribute("aria-label", "visibility");
  for (const value of ["public", "unlisted", "private"]) visibility.add(new Option(value, value, false, value === video.visibility));
  visibility.onchange = () => change(video.id, { visibility: visibility.value });
  const remove = document.createElement("button");
  remove.className = "delete";
  remove.textContent = "Delete";
  remove.onclick = async () => {
    if (!confirm(`Delete “${video.title}”? This cannot be undone.`)) return;
    try {
      await api("DELETE", `/api/videos/${video.id}`, undefined, video.id);
      ownerTokens.forget(video.id);
    } catch (error) { showError(error.message); }
    refreshLists({ force: true });
  };
  controls.append(name, rename, visibility, remove);
  if (video.status === "READY") {
    controls.append(captionForm(video, (path, body) => api("POST", path, body, video.id), (error) => {
      if (error) showError(error.message);
      refreshLists({ force: true });
    }));
  }
  return controls;
}

async function change(videoId, settings) {
  try {
    await api("PATCH", `/api/videos/${videoId}`, settings, videoId);
  } catch (error) { showError(error.message); }
  refreshLists({ force: true });
}

async function refreshLists({ force = false } = {}) {
  // The timer's refresh waits while the owner types a title: it would replace the text.
  if (!force && document.activeElement?.matches("#my-videos input")) return;
  const mine = await myVideos().catch((error) => { showError(error.message); return []; });
  const ids = new Set(mine.map((video) => video.id));
  const { videos } = await api("GET", "/api/videos").catch(() => ({ videos: [] }));
  $("my-videos").replaceChildren(...mine.map(videoItem));
  $("my-videos-empty").hidden = mine.length > 0;
  $("videos").replaceChildren(...videos.filter((video) => !ids.has(video.id)).map(videoItem));
}

/** /watch/{id}: the video alone, with its link to copy. */
async function watch(videoId) {
  $("watch").hidden = false;
  try {
    const video = await api("GET", `/api/videos/${videoId}`, undefined, videoId);
    $("watch-title").textContent = video.title;
    if (video.status !== "READY") {
      $("watch-state").textContent = `This video is ${video.status.toLowerCase()}.`;
      return;
    }
    await playVideo(video.id, video);
  } catch (error) {
    $("watch-title").textContent = "This video cannot be played";
    showError(error.message);
  }
}

let current = null;
function choose(file) {
  if (!file) return;
  current?.pause();
  $("job").hidden = false;
  $("error").hidden = true;
  $("resumed").hidden = true;
  $("name").textContent = file.name;
  $("transcode-bar").style.width = "0";
  $("transcode-text").textContent = "waiting for the upload";
  $("pause").hidden = $("cancel").hidden = false;
  $("resume").hidden = true;
  current = new Upload(file);
  window.vstreamUpload = current; // for tests and the curious
  current.start().catch((error) => showError(error.message));
}

$("file").addEventListener("change", (event) => choose(event.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); choose(event.dataTransfer.files[0]); });
$("pause").onclick = () => { current?.pause(); $("pause").hidden = true; $("resume").hidden = false; };
$("resume").onclick = () => { current?.resume(); $("pause").hidden = false; $("resume").hidden = true; };
$("cancel").onclick = () => current?.cancel();
$("player").addEventListener("resize", () => {
  const player = $("player");
  $("rendition").textContent = `playing ${player.videoWidth}x${player.videoHeight}`;
});
$("copy-link").onclick = () => navigator.clipboard?.writeText(location.href);
const watching = location.pathname.match(/^\/watch\/([0-9a-f-]{36})$/i);
if (watching) watch(watching[1].toLowerCase());
refreshLists();
setInterval(() => refreshLists(), 5000);
window.vstreamRefresh = () => refreshLists({ force: true }); // for tests and embedding pages
