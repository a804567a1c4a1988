// A still picture while it transcodes: the engine ends the picture's playlist once its one
// frame is out, while the sound's playlist goes on. MSE plays only where every SourceBuffer
// has media, so the playhead would stop at the end of the frame. The player therefore
// appends the picture's one-frame fragment again after it, as often as the sound runs on,
// each copy starting where the last ended and lasting to where the sound is buffered: the
// same picture held on screen. Only two fields change, in place (the fragment's decode time
// and its sample's duration): no box changes size. A copy is appended after the frames the
// browser has read, never over them: replacing a frame it has read (stretching the first)
// left Chromium waiting for a keyframe that never came.

/** The track's timescale from an init segment (moov/trak/mdia/mdhd), or null. */
export function timescale(init) {
  const mdhd = find(init, ["moov", "trak", "mdia", "mdhd"]);
  if (!mdhd) return null;
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const version = init[mdhd.body];
  const offset = mdhd.body + 4 + (version === 1 ? 16 : 8);
  return offset + 4 <= mdhd.end ? view.getUint32(offset) : null;
}

/**
 * The fragment's one sample: its decode time and duration in the track's ticks, or null
 * when it has several samples (a picture that stops early, not a still one).
 */
export function oneSample(fragment) {
  const fields = sampleFields(new Uint8Array(fragment));
  if (!fields) return null;
  const view = new DataView(fields.bytes.buffer);
  return { start: fields.readStart(view), duration: view.getUint32(fields.duration) };
}

/** A copy of the one-sample `fragment` that starts at `start` and lasts `duration` ticks. */
export function repeated(fragment, start, duration) {
  const fields = sampleFields(new Uint8Array(fragment));
  if (!fields || duration <= 0 || duration > 0xffffffff || start < 0 || !Number.isSafeInteger(start)) return null;
  const view = new DataView(fields.bytes.buffer);
  if (!fields.writeStart(view, start)) return null;
  view.setUint32(fields.duration, duration);
  return fields.bytes;
}

/** Where a one-sample fragment keeps its decode time (tfdt) and its sample's duration (the
 * trun's, else tfhd's default), in `bytes`. */
function sampleFields(bytes) {
  const view = new DataView(bytes.buffer);
  const traf = find(bytes, ["moof", "traf"]);
  const tfhd = traf && child(bytes, traf, "tfhd");
  const tfdt = traf && child(bytes, traf, "tfdt");
  const trun = traf && child(bytes, traf, "trun");
  if (!tfhd || !tfdt || !trun || trun.body + 8 > trun.end || tfhd.body + 8 > tfhd.end) return null;
  const runFlags = view.getUint32(trun.body) & 0xffffff;
  if (view.getUint32(trun.body + 4) !== 1) return null;
  let duration;
  if (runFlags & 0x100) {
    duration = trun.body + 8 + (runFlags & 0x1 ? 4 : 0) + (runFlags & 0x4 ? 4 : 0);
  } else {
    const headerFlags = view.getUint32(tfhd.body) & 0xffffff;
    if (!(headerFlags & 0x8)) return null;
    duration = tfhd.body + 8 + (headerFlags & 0x1 ? 8 : 0) + (headerFlags & 0x2 ? 4 : 0);
  }
  const wide = bytes[tfdt.body] === 1;
  const time = tfdt.body + 4;
  if (duration + 4 > bytes.length || time + (wide ? 8 : 4) > tfdt.end) return null;
  return {
    bytes,
    duration,
    readStart: (v) => (wide ? Number(v.getBigUint64(time)) : v.getUint32(time)),
    writeStart: (v, value) => {
      if (wide) { v.setBigUint64(time, BigInt(value)); return true; }
      if (value > 0xffffffff) return false;
      v.setUint32(time, value);
      return true;
    },
  };
}

/** The box at `path` (each name a child of the one before), as {body, end}, or null. */
function find(bytes, path) {
  let box = { body: 0, end: bytes.length };
  for (const name of path) {
    box = child(bytes, box, name);
    if (!box) return null;
  }
  return box;
}

/** The first child box of `parent` named `name`: where its body starts and it ends. */
function child(bytes, parent, name) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = parent.body; offset + 8 <= parent.end;) {
    const size = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (size < 8 || offset + size > parent.end) return null;
    if (type === name) return { body: offset + 8, end: offset + size };
    offset += size;
  }
  return null;
}
