// The audio tracks of a video (a dub, a commentary): a language menu where the browser
// exposes `HTMLMediaElement.audioTracks` for the stream it plays (Safari's native HLS),
// and otherwise a line that says which track plays, so a viewer is never left guessing.

/** Fills `menu` (a <select>) or `note` (a <span>) for `tracks`, the API's `audioTracks`. */
export function attachAudioTracks(player, menu, note, tracks, { playsMP4 = false } = {}) {
  menu.replaceChildren();
  menu.hidden = true;
  note.hidden = true;
  note.textContent = "";
  if (!tracks?.length) return;
  const main = tracks.find((track) => track.default) ?? tracks[0];
  const list = player.audioTracks;
  if (tracks.length > 1 && list && !playsMP4) {
    const fill = () => {
      menu.replaceChildren(...[...list].map((track, index) =>
        new Option(`Audio: ${track.label || track.language || `track ${index + 1}`}`, String(index), false, track.enabled)));
      menu.hidden = list.length < 2;
    };
    list.onaddtrack = fill;
    list.onremovetrack = fill;
    fill();
    menu.onchange = () => [...list].forEach((track, index) => { track.enabled = String(index) === menu.value; });
    return;
  }
  const others = tracks.filter((track) => track !== main).map((track) => track.name);
  note.textContent = others.length
    ? `Audio: ${main.name} (${playsMP4 ? "the MP4 carries" : "this browser plays"} this track only; also in ${others.join(", ")})`
    : `Audio: ${main.name}`;
  note.hidden = false;
}
