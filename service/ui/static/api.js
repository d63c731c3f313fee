// Calls to the service (same origin, relative paths) and errors put into words.

const WORDS = {
  0: "The service cannot be reached: is it still running?",
  400: "The request was not understood",
  404: "Not found",
  408: "The upload did not arrive in time",
  413: "Too large",
  415: "That kind of file is not accepted",
  422: "The input was refused",
  503: "The service cannot answer right now",
};

export class ServiceError extends Error {
  constructor(status, code, detail) {
    const lead = WORDS[status] || `The service answered with status ${status}`;
    super(detail ? `${lead}: ${detail}` : `${lead}.`);
    this.status = status;
    this.code = code;
    this.retryAfter = 0;
  }
}

// The error's code and detail, from {"error": code, "detail": ...} or {"error": {"code", "message"}}.
function explain(body, text) {
  const error = body && body.error;
  if (typeof error === "string") return [error, body.detail || ""];
  if (error && typeof error === "object") return [error.code || "", error.message || error.detail || ""];
  return ["", text.trim().slice(0, 200)];
}

export async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch {
    throw new ServiceError(0, "unreachable", "");
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const [code, detail] = explain(body, text);
    const error = new ServiceError(response.status, code, detail);
    error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
    throw error;
  }
  return body;
}

export function postJson(path, payload) {
  return call(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

export function postImage(path, blob, filename) {
  const form = new FormData();
  form.append("image", blob, filename);
  return call(path, { method: "POST", body: form });
}

// Show ``message`` in the error box ``element`` (or hide it when the message is empty).
export function showError(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

export function percent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}
