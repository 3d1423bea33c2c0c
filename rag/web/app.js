// The mmrag search page: one module, no dependencies, no build step.
//
// Everything that comes from the API is written with textContent or as element properties,
// never parsed as HTML. The API key (optional) lives in localStorage and goes out as
// X-API-Key on every request; media elements cannot send headers, so with a key set their
// files are fetched here and shown through blob: URLs.

const KEY_STORAGE = "mmrag.apiKey";
const STAGES = ["embed", "retrieve", "fuse", "rerank"];
const MODALITY_LABELS = { text: "Text", image: "Image", audio: "Speech" };

const el = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
};

const ui = {
  form: el("search-form"),
  query: el("query"),
  k: el("k"),
  image: el("image"),
  audio: el("audio"),
  clearFiles: el("clear-files"),
  button: el("search-button"),
  preview: el("query-preview"),
  previewImage: el("query-image-preview"),
  error: el("error"),
  errorDetail: el("error-detail"),
  warnings: el("warnings"),
  warningsList: el("warnings-list"),
  status: el("status"),
  queryInfo: el("query-info"),
  timings: el("timings"),
  timingsTotal: el("timings-total"),
  timingsStages: el("timings-stages"),
  results: el("results"),
  template: el("result-template"),
  keyPanel: el("api-key-panel"),
  keyForm: el("api-key-form"),
  keyInput: el("api-key"),
  keyForget: el("api-key-forget"),
  keyState: el("key-state"),
};

// ---------------------------------------------------------------------------------------
// API key

function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled: the key lasts for this page only
  }
}

let apiKey = storedKey();

function setKey(value) {
  apiKey = value.trim();
  try {
    if (apiKey) localStorage.setItem(KEY_STORAGE, apiKey);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: keep the key in memory
  }
  showKeyState();
}

function showKeyState() {
  ui.keyInput.value = apiKey;
  ui.keyState.textContent = apiKey ? "set" : "not set";
  ui.keyState.classList.toggle("is-set", Boolean(apiKey));
}

function headers(extra = {}) {
  const h = new Headers(extra);
  h.set("Accept", "application/json, application/problem+json");
  if (apiKey) h.set("X-API-Key", apiKey);
  return h;
}

// ---------------------------------------------------------------------------------------
// Formatting

const msFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const msFineFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function formatMs(ms) {
  return `${(ms >= 100 ? msFormat : msFineFormat).format(ms)} ms`;
}

export function formatClock(seconds) {
  const tenths = Math.round(seconds * 10);
  const minutes = Math.floor(tenths / 600);
  const rest = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
  return `${minutes}:${rest}`;
}

export function describeLocator(locator) {
  const parts = [];
  if (!locator) return "";
  if (locator.page != null) parts.push(`page ${locator.page}`);
  if (locator.record != null) parts.push(`record ${locator.record}`);
  if (locator.start_s != null) {
    parts.push(
      locator.end_s != null
        ? `${formatClock(locator.start_s)}–${formatClock(locator.end_s)}`
        : `from ${formatClock(locator.start_s)}`,
    );
  }
  if (locator.char_start != null && locator.char_end != null) {
    parts.push(`chars ${locator.char_start}–${locator.char_end}`);
  }
  return parts.join(" · ");
}

// Only ever load media from this origin, whatever a result says.
function sameOriginUrl(path) {
  try {
    const url = new URL(path, window.location.origin);
    return url.origin === window.location.origin ? url : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Media: plain URLs without a key, blob: URLs (fetched with the key) with one

let blobUrls = [];
let mediaLoads = new AbortController(); // aborted when the results are replaced

function forgetMedia() {
  mediaLoads.abort();
  mediaLoads = new AbortController();
  for (const url of blobUrls) URL.revokeObjectURL(url);
  blobUrls = [];
}

async function mediaSource(url) {
  if (!apiKey) return url.href;
  const signal = mediaLoads.signal;
  const response = await fetch(url, { headers: headers(), signal });
  if (!response.ok) throw new Error(`media ${response.status}`);
  const blob = await response.blob();
  signal.throwIfAborted();
  const blobUrl = URL.createObjectURL(blob);
  blobUrls.push(blobUrl);
  return blobUrl;
}

function imageMedia(hit) {
  const original = sameOriginUrl(hit.media_url);
  if (!original) return null;
  const url = new URL(original);
  url.searchParams.set("thumb", "256");
  const img = document.createElement("img");
  img.alt = hit.snippet ? `${hit.source_name}: ${hit.snippet}` : hit.source_name;
  img.decoding = "async";
  img.width = 256;
  img.height = 256;
  mediaSource(url)
    .then((src) => {
      img.src = src;
    })
    .catch(() => img.replaceWith(mediaUnavailable("Thumbnail unavailable")));
  if (!apiKey) {
    // The full image, in a new tab; only without a key (a plain link cannot send it).
    const link = document.createElement("a");
    link.href = original.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.append(img);
    return link;
  }
  return img;
}

function audioMedia(hit) {
  const url = sameOriginUrl(hit.media_url);
  if (!url) return null;
  const start = hit.locator?.start_s ?? 0;
  const end = hit.locator?.end_s;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.dataset.start = String(start);
  if (end != null) audio.dataset.end = String(end);
  audio.setAttribute(
    "aria-label",
    `Play ${hit.source_name} from ${formatClock(start)}${end != null ? ` to ${formatClock(end)}` : ""}`,
  );
  // The media fragment starts (and stops) the player at the segment; setting currentTime once
  // the metadata is in covers players that ignore fragments on blob: URLs.
  const fragment = end != null ? `#t=${start},${end}` : `#t=${start}`;
  audio.addEventListener(
    "loadedmetadata",
    () => {
      if (Math.abs(audio.currentTime - start) > 0.05) audio.currentTime = start;
    },
    { once: true },
  );
  mediaSource(url)
    .then((src) => {
      audio.src = src + fragment;
    })
    .catch(() => audio.replaceWith(mediaUnavailable("Audio unavailable")));
  return audio;
}

function mediaUnavailable(message) {
  const p = document.createElement("p");
  p.className = "media-unavailable";
  p.textContent = message;
  return p;
}

// ---------------------------------------------------------------------------------------
// Rendering

function field(card, name) {
  return card.querySelector(`[data-field="${name}"]`);
}

function renderHit(hit) {
  const fragment = ui.template.content.cloneNode(true);
  const card = fragment.querySelector(".card");
  const modality = String(hit.modality);
  card.dataset.id = hit.id;
  card.dataset.modality = modality;
  card.dataset.sourceName = hit.source_name;

  const badge = field(card, "modality");
  const known = Object.hasOwn(MODALITY_LABELS, modality);
  badge.textContent = known ? MODALITY_LABELS[modality] : modality;
  badge.classList.add(`badge-${known ? modality : "other"}`);

  const score = Number(hit.score);
  field(card, "meter").value = score;
  field(card, "meter").setAttribute("aria-label", "Relevance");
  field(card, "score").textContent = score.toFixed(3);

  const title = field(card, "title");
  if (hit.title) title.textContent = hit.title;
  else title.remove();

  const source = field(card, "source");
  source.textContent = hit.source_name;
  source.title = hit.source;

  const where = field(card, "where");
  const located = describeLocator(hit.locator);
  if (located) where.textContent = located;
  else where.remove();

  const snippet = field(card, "snippet");
  if (hit.snippet) {
    snippet.textContent = hit.snippet;
    if (modality === "audio") snippet.classList.add("transcript");
    if (modality === "image") snippet.classList.add("ocr");
  } else {
    snippet.remove();
  }

  const media = field(card, "media");
  const node =
    modality === "image"
      ? imageMedia(hit)
      : modality === "audio"
        ? audioMedia(hit)
        : null;
  if (node) {
    media.append(node);
    media.hidden = false;
  } else {
    media.remove();
  }
  return fragment;
}

function renderTimings(timings) {
  ui.timingsStages.replaceChildren();
  if (!timings || timings.total == null) {
    ui.timings.hidden = true;
    return;
  }
  ui.timingsTotal.textContent = `${formatMs(timings.total)} total`;
  const names = [...STAGES, ...Object.keys(timings).filter((n) => n !== "total" && !STAGES.includes(n))];
  for (const name of names) {
    if (timings[name] == null) continue;
    const li = document.createElement("li");
    li.dataset.stage = name;
    li.textContent = `${name} ${formatMs(timings[name])}`;
    ui.timingsStages.append(li);
  }
  ui.timings.hidden = false;
}

function renderQueryInfo(query) {
  ui.queryInfo.replaceChildren();
  const rows = [
    ["Heard in the audio", query?.transcript],
    ["Text in the image", query?.ocr_text],
    ["Language", query?.transcript || query?.ocr_text ? query?.language : null],
  ];
  for (const [label, value] of rows) {
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    ui.queryInfo.append(dt, dd);
  }
  ui.queryInfo.hidden = ui.queryInfo.childElementCount === 0;
}

function renderWarnings(warnings) {
  ui.warningsList.replaceChildren();
  for (const warning of warnings || []) {
    const li = document.createElement("li");
    li.textContent = String(warning);
    ui.warningsList.append(li);
  }
  ui.warnings.hidden = ui.warningsList.childElementCount === 0;
}

function clearOutput() {
  forgetMedia();
  ui.results.replaceChildren();
  ui.error.hidden = true;
  ui.errorDetail.textContent = "";
  renderWarnings([]);
  renderTimings(null);
  renderQueryInfo(null);
}

function showError(message) {
  ui.errorDetail.textContent = message;
  ui.error.hidden = false;
  ui.status.textContent = "The search failed.";
}

function render(response, typed) {
  renderWarnings(response.warnings);
  renderQueryInfo(response.query);
  renderTimings(response.timings_ms);
  const cards = document.createDocumentFragment();
  for (const hit of response.results || []) cards.append(renderHit(hit));
  ui.results.append(cards);
  const n = ui.results.childElementCount;
  // The typed text only: for an audio query the service's query text is the transcript.
  const what = typed ? ` for “${typed}”` : "";
  ui.status.textContent = n === 0 ? `No results${what}.` : `${n} result${n === 1 ? "" : "s"}${what}.`;
}

// ---------------------------------------------------------------------------------------
// Search

class ProblemError extends Error {
  constructor(status, problem) {
    const detail =
      (problem && typeof problem.detail === "string" && problem.detail) ||
      (problem && typeof problem.title === "string" && problem.title) ||
      `the service answered HTTP ${status}`;
    super(detail);
    this.status = status;
  }
}

async function readBody(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.trim().slice(0, 500) || undefined };
  }
}

function selectedModalities() {
  return [...ui.form.querySelectorAll('input[name="modality"]:checked')].map((box) => box.value);
}

function buildRequest() {
  const text = ui.query.value.trim();
  const k = Number.parseInt(ui.k.value, 10);
  const modalities = selectedModalities();
  const image = ui.image.files?.[0];
  const audio = ui.audio.files?.[0];
  if (image || audio) {
    const form = new FormData();
    if (text) form.set("text", text);
    form.set("k", String(k));
    form.set("modalities", modalities.join(","));
    if (image) form.set("image", image);
    if (audio) form.set("audio", audio);
    return { headers: headers(), body: form };
  }
  // An empty text goes to the service as it is: its problem detail says what is missing.
  return {
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ text, k, modalities }),
  };
}

let inFlight = null;

function setBusy(busy) {
  if (busy) ui.results.setAttribute("aria-busy", "true");
  else ui.results.removeAttribute("aria-busy");
  ui.form.classList.toggle("is-searching", busy);
  ui.button.textContent = busy ? "Searching…" : "Search";
  if (busy) ui.status.textContent = "Searching…";
}

async function search(event) {
  event?.preventDefault();
  inFlight?.abort();
  inFlight = null;
  setBusy(false);
  clearOutput();
  if (selectedModalities().length === 0) {
    showError("Choose at least one of text, images or speech.");
    return;
  }
  const controller = new AbortController();
  inFlight = controller;
  const typed = ui.query.value.trim();
  const { headers: requestHeaders, body } = buildRequest();
  setBusy(true);
  try {
    const response = await fetch("/v1/search", {
      method: "POST",
      headers: requestHeaders,
      body,
      signal: controller.signal,
    });
    const payload = await readBody(response);
    if (!response.ok) throw new ProblemError(response.status, payload);
    if (controller !== inFlight) return;
    render(payload, typed);
  } catch (error) {
    if (controller !== inFlight || error.name === "AbortError") return;
    let message = error instanceof ProblemError ? error.message : `Could not reach the service (${error.message}).`;
    if (error instanceof ProblemError && error.status === 401) {
      message = `${message.replace(/[.!?]?$/, ".")} Set the API key (top right) and search again.`;
      ui.keyPanel.open = true;
    }
    showError(message);
  } finally {
    if (controller === inFlight) {
      setBusy(false);
      inFlight = null;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Query files

let previewUrl = null;

function showFiles() {
  const image = ui.image.files?.[0];
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = image ? URL.createObjectURL(image) : null;
  if (previewUrl) ui.previewImage.src = previewUrl;
  else ui.previewImage.removeAttribute("src");
  ui.preview.hidden = !previewUrl;
  ui.clearFiles.hidden = !(image || ui.audio.files?.[0]);
}

function clearFiles() {
  ui.image.value = "";
  ui.audio.value = "";
  showFiles();
  ui.query.focus();
}

// ---------------------------------------------------------------------------------------
// Wiring

ui.form.addEventListener("submit", search);
ui.image.addEventListener("change", showFiles);
ui.audio.addEventListener("change", showFiles);
ui.clearFiles.addEventListener("click", clearFiles);
ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setKey(ui.keyInput.value);
  ui.keyPanel.open = false;
  ui.query.focus();
});
ui.keyForget.addEventListener("click", () => {
  setKey("");
  ui.keyInput.focus();
});
showKeyState();
showFiles();
document.documentElement.dataset.ready = "true";
