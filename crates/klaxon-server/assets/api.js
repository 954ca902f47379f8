// The API client of the dashboard: same-origin fetch with the session cookie, the session's
// CSRF token on every request that changes something, and the API's error body as ApiError.

let csrf = "";
let unauthorized = () => {};

/** Sets the CSRF token of the signed-in session. */
export function setCsrf(token) {
  csrf = token || "";
}

/** Called when the server answers 401 (the session ended). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** An error the server (or the network) answered. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** One API call; resolves to the parsed JSON body (null for an empty one). */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
    opts.body = text;
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch {
    throw new ApiError(0, "network", "the server did not answer; is it running?");
  }
  const text = res.status === 204 ? "" : await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const e = data && typeof data === "object" ? data.error : null;
    if (res.status === 401 && !quiet401) unauthorized();
    const message = e?.message ?? (typeof data === "string" && data ? data : `${res.status} ${res.statusText}`);
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, message, e?.details);
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body) => api("POST", path, body);
export const del = (path) => api("DELETE", path);

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}
