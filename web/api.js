// The page's calls to the API, with the caller's credentials.
//
// Credentials, in this order:
//   - an app's JWT: an embedding page sets `window.vstreamToken = "<jwt>"` (read on every
//     call, so the app may refresh it);
//   - for anonymous uploads, the `ownerToken` that POST /api/uploads returned, kept in
//     localStorage under `vstream.owner:<videoId>`, and sent for that video only.

const OWNER_PREFIX = "vstream.owner:";

export const appToken = () => (typeof window.vstreamToken === "string" && window.vstreamToken) || null;

export const ownerTokens = {
  get: (videoId) => localStorage.getItem(OWNER_PREFIX + videoId),
  set: (videoId, token) => localStorage.setItem(OWNER_PREFIX + videoId, token),
  forget: (videoId) => localStorage.removeItem(OWNER_PREFIX + videoId),
  videoIds: () => Object.keys(localStorage).filter((k) => k.startsWith(OWNER_PREFIX)).map((k) => k.slice(OWNER_PREFIX.length)),
};

/** The credential for a call about `videoId` (or about none). */
export function credential(videoId) {
  return appToken() || (videoId ? ownerTokens.get(videoId) : null);
}

/** A readable sentence for the rules' refusals; the server's own words otherwise. */
export function explain(status, message) {
  switch (status) {
    case 401: return `Please sign in: ${message}`;
    case 403: return `Not allowed: ${message}`;
    case 404: return `Not found: ${message}`;
    case 429: return `Slow down: ${message}`;
    default: return message;
  }
}

/** Calls the API; `videoId` picks the owner token to send. Throws an Error with `status`. */
export async function api(method, path, body, videoId) {
  const headers = body ? { "content-type": "application/json" } : {};
  const token = credential(videoId);
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: text }; }
  if (!response.ok) {
    throw Object.assign(new Error(explain(response.status, data.error || response.statusText)), { status: response.status });
  }
  return data;
}

/**
 * Follows a video's Server-Sent Events with the caller's credential (EventSource cannot
 * send an Authorization header). `on(kind, data)` gets each event; returns a stop function.
 */
export function followEvents(videoId, on) {
  const controller = new AbortController();
  const headers = {};
  const token = credential(videoId);
  if (token) headers.authorization = `Bearer ${token}`;
  (async () => {
    const response = await fetch(`/api/videos/${videoId}/events`, { headers, signal: controller.signal });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      on("failed", { error: explain(response.status, data.error || response.statusText) });
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const kind = block.match(/^event: (.*)$/m)?.[1];
        const data = block.match(/^data: (.*)$/m)?.[1];
        if (kind && data) on(kind, JSON.parse(data));
      }
    }
  })().catch((error) => { if (error.name !== "AbortError") on("failed", { error: error.message }); });
  return () => controller.abort();
}
