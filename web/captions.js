// Caption tracks on the player, a CC menu, and the owner's "Add captions" form.
//
// Each track is the whole WebVTT file the API names (`captions[].url`), as a <track>
// element: the browser's own renderer shows it, and `textTracks` exposes its cues. A file on
// another origin (the bucket) is fetched with CORS and handed to the <track> as a blob URL,
// since a <track> from another origin needs the whole <video> in CORS mode.

const MENU_OFF = "";

/** Replaces the player's caption tracks with `captions` and fills the CC menu. */
export async function attachCaptions(player, menu, captions) {
  // The track the viewer chose stays chosen when the list is replaced (the finished
  // ladder's tracks replace those of the one watched while it transcoded).
  const chosen = [...player.textTracks].find((track) => track.mode === "showing");
  for (const track of [...player.querySelectorAll("track")]) {
    if (track.src.startsWith("blob:")) URL.revokeObjectURL(track.src);
    track.remove();
  }
  menu.replaceChildren(new Option("Captions off", MENU_OFF));
  menu.hidden = !captions?.length;
  if (!captions?.length) return;
  for (const [index, caption] of captions.entries()) {
    const track = document.createElement("track");
    // HTML's "captions" are for the deaf and hard of hearing (they describe sounds too).
    track.kind = caption.hearingImpaired ? "captions" : "subtitles";
    track.label = caption.name;
    track.srclang = caption.language;
    track.src = await sameOriginURL(caption.url);
    player.append(track);
    menu.add(new Option(`CC: ${caption.name}`, String(index)));
  }
  menu.onchange = () => showTrack(player, menu.value);
  // A forced track shows with captions "off", as its disposition asks.
  const forced = captions.findIndex((caption) => caption.forced);
  const kept = chosen ? captions.findIndex((caption) => caption.language === chosen.language && caption.name === chosen.label) : -1;
  menu.value = kept >= 0 ? String(kept) : forced >= 0 ? String(forced) : MENU_OFF;
  showTrack(player, menu.value);
}

/** Shows the track at `value` (an index into the player's tracks), hides every other. */
function showTrack(player, value) {
  [...player.textTracks].forEach((track, index) => {
    track.mode = String(index) === value ? "showing" : "disabled";
  });
}

async function sameOriginURL(url) {
  if (new URL(url, location.href).origin === location.origin) return url;
  try {
    const response = await fetch(url);
    if (response.ok) return URL.createObjectURL(new Blob([await response.text()], { type: "text/vtt" }));
  } catch {
    // the bucket does not allow this origin: the <track> tries the URL itself
  }
  return url;
}

/** The owner's form: a caption file, its language, name and kind; POSTed as JSON. */
export function captionForm(video, post, done) {
  const form = document.createElement("form");
  form.className = "add-captions";
  const file = Object.assign(document.createElement("input"), { type: "file", accept: ".srt,.vtt,text/vtt", required: true });
  file.setAttribute("aria-label", "caption file");
  const language = Object.assign(document.createElement("input"), { placeholder: "language (eng)", required: true, size: 8,
                                                                       pattern: "[A-Za-z\\-]{1,16}" });
  language.setAttribute("aria-label", "caption language");
  const name = Object.assign(document.createElement("input"), { placeholder: "name (English)", size: 12, maxLength: 100 });
  name.setAttribute("aria-label", "caption name");
  // SDH: captions for the deaf and hard of hearing, which describe sounds as well as speech.
  const sdh = Object.assign(document.createElement("input"), { type: "checkbox" });
  sdh.setAttribute("aria-label", "for the deaf and hard of hearing (SDH)");
  const sdhLabel = document.createElement("label");
  sdhLabel.append(sdh, " SDH");
  const submit = Object.assign(document.createElement("button"), { type: "submit", textContent: "Add captions" });
  form.append(file, language, name, sdhLabel, submit);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const format = /\.vtt$/i.test(chosen.name) ? "vtt" : "srt";
    submit.disabled = true;
    try {
      await post(`/api/videos/${video.id}/captions`,
                 { language: language.value.trim(), name: name.value.trim() || undefined, format,
                   kind: sdh.checked ? "captions" : "subtitles", content: await chosen.text() });
      done(null);
    } catch (error) {
      done(error);
    } finally {
      submit.disabled = false;
    }
  };
  return form;
}
