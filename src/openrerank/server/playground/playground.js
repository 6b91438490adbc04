// The openrerank playground: plain JavaScript, no dependencies, no build step.
//
// It calls the server's public API only (GET /v1/models, POST /v2/rerank, and POST /rerank
// with raw_scores for a calibrated model), as any client would. Document text is never
// parsed as HTML: it goes into the page as text nodes, highlights included. An API key is
// kept in this tab's sessionStorage and sent only in the Authorization header; it is never
// written into the page, a snippet or a URL.
"use strict";

(() => {
  const KEY_STORAGE = "openrerank.apiKey";
  const MAX_DOCUMENTS = 10000; // Cohere's documents x max_chunks_per_doc limit
  const $ = (id) => document.getElementById(id);
  const state = { cards: new Map(), fileDocuments: null, last: null, snippet: "curl" };

  // --- the API -----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function storedKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  async function call(path, body) {
    const headers = { Accept: "application/json" };
    const key = storedKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    const init = { method: "GET", headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, `the server could not be reached (${error.message})`);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const message = data && typeof data.message === "string" ? data.message : response.statusText;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  // --- models ------------------------------------------------------------------------

  async function loadModels() {
    const select = $("model");
    const previous = select.value;
    let list;
    try {
      list = await call("/v1/models");
    } catch (error) {
      showError(error, "listing the models");
      return;
    }
    hideError();
    state.cards.clear();
    select.replaceChildren();
    for (const card of list.models) {
      const group = document.createElement("optgroup");
      group.label = card.default ? `${card.name} (default)` : card.name;
      for (const name of [card.name, ...card.aliases]) {
        state.cards.set(name, card);
        group.append(new Option(name === card.name ? name : `${name} → ${card.name}`, name));
      }
      select.append(group);
    }
    const fallback = list.models.find((card) => card.default) || list.models[0];
    select.value = state.cards.has(previous) ? previous : fallback ? fallback.name : "";
    describeModel();
  }

  function selectedCard() {
    return state.cards.get($("model").value) || null;
  }

  function calibrated(card) {
    return Boolean(card && card.score.startsWith("calibrated:"));
  }

  function describeModel() {
    const card = selectedCard();
    const takesInstruction = Boolean(card && card.template);
    $("instruction-row").hidden = !takesInstruction;
    $("instruction").placeholder = takesInstruction && card.instruction ? card.instruction : "";
    if (!card) {
      $("model-info").textContent = "";
      return;
    }
    const parts = [
      `window ${card.context_length} tokens (a longer document is scored by its best window)`,
      `${card.backend} ${card.precision} on ${card.device}`,
      `score: ${card.score}`,
    ];
    if (card.template) parts.push(`template: ${card.template}`);
    $("model-info").textContent = parts.join(" · ");
  }

  // --- documents -----------------------------------------------------------------------

  function lines(text) {
    return text.split(/\r?\n/).filter((line) => line.trim() !== "");
  }

  function asDocument(value, where) {
    if (typeof value === "string") return value;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      // An object with a text field is that text (as `openrerank rank` reads JSONL);
      // any other object is sent as a JSON record, which the server scores as key: value lines.
      return typeof value.text === "string" ? value.text : JSON.stringify(value);
    }
    throw new Error(`${where}: expected a string or an object`);
  }

  function parseJsonLine(line, number) {
    let value;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`line ${number}: not valid JSON (${error.message})`);
    }
    return asDocument(value, `line ${number}`);
  }

  function parseFile(name, text) {
    const lower = name.toLowerCase();
    if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) {
      const numbered = text.split(/\r?\n/).map((line, i) => [line, i + 1]);
      return numbered.filter(([line]) => line.trim()).map(([line, n]) => parseJsonLine(line, n));
    }
    if (lower.endsWith(".json")) {
      const value = JSON.parse(text);
      const list = Array.isArray(value) ? value : value && value.documents;
      if (!Array.isArray(list)) throw new Error('expected an array of documents or {"documents": [...]}');
      return list.map((item, i) => asDocument(item, `document ${i}`));
    }
    if (lower.endsWith(".yaml") || lower.endsWith(".yml")) {
      // One YAML record per document, separated by `---` lines; the server reads each one.
      return text.split(/^---[ \t]*\r?$/m).map((part) => part.replace(/^\s*\n/, "").trimEnd())
        .filter((part) => part.trim() !== "");
    }
    return lines(text);
  }

  async function readFile() {
    const file = $("file").files[0];
    if (!file) return;
    let documents;
    try {
      documents = parseFile(file.name, await file.text());
    } catch (error) {
      showError(new ApiError(0, `${file.name}: ${error.message}`), "reading the file");
      return;
    }
    hideError();
    if (documents.every((doc) => !doc.includes("\n") && doc.trim() !== "")) {
      $("documents").value = documents.join("\n"); // editable, one per line
      clearFile(false);
    } else {
      state.fileDocuments = documents; // multi-line records stay as they are
      $("documents").disabled = true;
    }
    $("file-info").textContent = `${documents.length} documents from ${file.name}`;
    $("file-info").hidden = false;
    $("file-clear").hidden = state.fileDocuments === null;
  }

  function clearFile(resetInfo = true) {
    state.fileDocuments = null;
    $("documents").disabled = false;
    $("file").value = "";
    $("file-clear").hidden = true;
    if (resetInfo) $("file-info").hidden = true;
  }

  function currentDocuments() {
    return state.fileDocuments || lines($("documents").value);
  }

  // --- the request ---------------------------------------------------------------------

  function wholeNumber(id) {
    const text = $(id).value.trim();
    return text === "" ? null : Number(text);
  }

  function buildRequest() {
    const body = { model: $("model").value, query: $("query").value, documents: currentDocuments() };
    const topN = wholeNumber("top-n");
    const maxTokens = wholeNumber("max-tokens");
    if (topN !== null) body.top_n = topN;
    if (maxTokens !== null) body.max_tokens_per_doc = maxTokens;
    if ($("spans").checked) {
      const threshold = $("threshold").value.trim();
      body.relevant_spans = { mode: "enabled" };
      if (threshold !== "") body.relevant_spans.threshold = Number(threshold);
    }
    const instruction = $("instruction").value;
    if (!$("instruction-row").hidden && instruction.trim() !== "") body.instruction = instruction;
    return body;
  }

  async function rawScores(body) {
    // Calibrated models: the same request on POST /rerank with raw_scores gives the logits.
    const raw = { model: body.model, query: body.query, documents: body.documents, raw_scores: true };
    raw.max_chunks_per_doc = Math.max(1, Math.floor(MAX_DOCUMENTS / body.documents.length));
    if (body.max_tokens_per_doc !== undefined) raw.max_tokens_per_doc = body.max_tokens_per_doc;
    if (body.instruction !== undefined) raw.instruction = body.instruction;
    const answer = await call("/rerank", raw);
    return new Map(answer.results.map((result) => [result.index, result.relevance_score]));
  }

  async function submit(event) {
    event.preventDefault();
    const body = buildRequest();
    const card = selectedCard();
    setBusy(true);
    hideError();
    try {
      const started = performance.now();
      const answer = await call("/v2/rerank", body);
      const latency = performance.now() - started;
      let raw = null;
      let rawError = null;
      if (calibrated(card)) raw = await rawScores(body).catch((error) => { rawError = error; return null; });
      state.last = body;
      renderResults(body, answer, raw);
      renderMeta(answer, latency, raw, rawError);
      renderSnippet();
    } catch (error) {
      $("results").replaceChildren();
      $("meta").textContent = "";
      showError(error, "ranking");
    } finally {
      setBusy(false);
    }
  }

  function setBusy(busy) {
    $("submit").disabled = busy;
    $("submit").textContent = busy ? "Ranking…" : "Rank";
    $("results").setAttribute("aria-busy", String(busy));
  }

  // --- results ---------------------------------------------------------------------------

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function highlighted(text, spans) {
    // Offsets are code points into the document as sent; JavaScript strings count UTF-16
    // units, so the text is cut as an array of code points. Only text nodes are made.
    const fragment = document.createDocumentFragment();
    const points = Array.from(text);
    const scores = (spans || []).map((span) => span.score);
    const low = Math.min(...scores);
    const range = Math.max(...scores) - low;
    let at = 0;
    for (const span of [...(spans || [])].sort((a, b) => a.start - b.start)) {
      const start = Math.max(span.start, at);
      const end = Math.min(span.end, points.length);
      if (end <= start) continue;
      if (start > at) fragment.append(points.slice(at, start).join(""));
      const mark = element("mark", "span", points.slice(start, end).join(""));
      mark.title = `span score ${span.score.toFixed(4)}`;
      mark.dataset.score = String(span.score);
      // Shade by rank among this document's spans: the best is the darkest.
      const strength = range > 0 ? (span.score - low) / range : 1;
      mark.style.setProperty("--strength", strength.toFixed(3));
      fragment.append(mark);
      at = end;
    }
    if (at < points.length) fragment.append(points.slice(at).join(""));
    return fragment;
  }

  function scoreBar(score) {
    const bar = element("div", "bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = element("div", "fill");
    fill.style.setProperty("width", `${(Math.min(1, Math.max(0, score)) * 100).toFixed(1)}%`);
    bar.append(fill);
    return bar;
  }

  function renderResult(body, result, rank, raw) {
    const item = element("li", "result");
    item.dataset.testid = "result";
    item.dataset.index = String(result.index);
    item.dataset.score = String(result.relevance_score);
    const head = element("div", "result-head");
    head.append(element("span", "rank", `#${rank + 1}`));
    head.append(element("span", "index", `index ${result.index}`));
    head.append(element("span", "score", result.relevance_score.toFixed(4)));
    if (raw && raw.has(result.index)) {
      item.dataset.raw = String(raw.get(result.index));
      head.append(element("span", "raw", `raw logit ${raw.get(result.index).toFixed(4)} → calibrated`));
    }
    const spans = result.relevant_spans || [];
    if (body.relevant_spans) {
      const best = spans.length ? `, best ${Math.max(...spans.map((span) => span.score)).toFixed(4)}` : "";
      head.append(element("span", "hint", `${spans.length} relevant span(s)${best}`));
    }
    item.append(head, scoreBar(result.relevance_score));
    const text = element("p", "document");
    text.append(highlighted(body.documents[result.index], spans));
    item.append(text);
    return item;
  }

  function renderResults(body, answer, raw) {
    const list = $("results");
    list.replaceChildren(...answer.results.map((result, rank) => renderResult(body, result, rank, raw)));
  }

  function renderMeta(answer, latency, raw, rawError) {
    const units = answer.meta && answer.meta.billed_units ? answer.meta.billed_units.search_units : "?";
    const parts = [
      `${answer.results.length} result(s)`,
      `${Math.round(latency)} ms`,
      `${units} search unit(s) billed`,
      `request id ${answer.id}`,
    ];
    if (raw) parts.push("scores calibrated; raw logits beside them");
    if (rawError) parts.push(`raw scores unavailable: ${rawError.message}`);
    $("meta").textContent = parts.join(" · ");
  }

  // --- errors ------------------------------------------------------------------------------

  function showError(error, doing) {
    const box = $("error");
    box.replaceChildren();
    if (error instanceof ApiError && error.status) {
      box.append(element("strong", "status", String(error.status)), " ");
    } else {
      box.append(element("strong", "status", `error ${doing}`), " ");
    }
    box.append(element("span", "message", error.message)); // the server's message, as it is
    box.hidden = false;
  }

  function hideError() {
    $("error").hidden = true;
    $("error").replaceChildren();
  }

  // --- copy as code --------------------------------------------------------------------------

  const py = (value) => JSON.stringify(value); // a JSON string or number is a Python literal

  function pyList(items, indent) {
    const pad = " ".repeat(indent);
    return `[\n${items.map((item) => `${pad}    ${py(item)},`).join("\n")}\n${pad}]`;
  }

  function pyKey(keyed) {
    return keyed ? 'os.environ["CO_API_KEY"]' : '"anything"';
  }

  function curlSnippet(body, keyed) {
    const json = JSON.stringify(body, null, 2).replace(/'/g, "'\\''");
    const auth = keyed ? `  -H "Authorization: Bearer $CO_API_KEY" \\\n` : "";
    return `curl -s ${location.origin}/v2/rerank \\\n  -H 'Content-Type: application/json' \\\n${auth}  -d '${json}'`;
  }

  function cohereSnippet(body, keyed) {
    const args = [`    model=${py(body.model)},`, `    query=${py(body.query)},`];
    args.push(`    documents=${pyList(body.documents, 4)},`);
    if (body.top_n !== undefined) args.push(`    top_n=${py(body.top_n)},`);
    if (body.max_tokens_per_doc !== undefined) args.push(`    max_tokens_per_doc=${py(body.max_tokens_per_doc)},`);
    const extra = {};
    if (body.relevant_spans) extra.relevant_spans = body.relevant_spans;
    if (body.instruction !== undefined) extra.instruction = body.instruction;
    if (Object.keys(extra).length) {
      args.push(`    request_options={"additional_body_parameters": ${JSON.stringify(extra)}},`);
    }
    return [
      "import os\n",
      "import cohere\n",
      `co = cohere.ClientV2(base_url=${py(location.origin)}, api_key=${pyKey(keyed)})`,
      `response = co.rerank(\n${args.join("\n")}\n)`,
      "for result in response.results:",
      "    print(result.index, result.relevance_score)",
    ].join("\n");
  }

  function langchainSnippet(body, keyed) {
    const lines = [
      "import os\n",
      "from langchain_cohere import CohereRerank\n",
      "reranker = CohereRerank(",
      `    base_url=${py(location.origin)},`,
      `    cohere_api_key=${pyKey(keyed)},`,
      `    model=${py(body.model)},`,
      `    top_n=${body.top_n === undefined ? "None" : py(body.top_n)},`,
      ")",
    ];
    if (body.relevant_spans || body.instruction !== undefined) {
      lines.push("# relevant_spans and instruction are not LangChain options: see the Cohere SDK tab");
    }
    const tokens = body.max_tokens_per_doc === undefined ? "" : `\n    max_tokens_per_doc=${py(body.max_tokens_per_doc)},`;
    lines.push(
      `results = reranker.rerank(\n    documents=${pyList(body.documents, 4)},\n    query=${py(body.query)},${tokens}\n)`,
      "for result in results:",
      '    print(result["index"], result["relevance_score"])',
    );
    return lines.join("\n");
  }

  const SNIPPETS = { curl: curlSnippet, cohere: cohereSnippet, langchain: langchainSnippet };

  function renderSnippet() {
    if (!state.last) return;
    $("copy").hidden = false;
    $("snippet").textContent = SNIPPETS[state.snippet](state.last, storedKey() !== "");
    for (const tab of document.querySelectorAll("[data-snippet]")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.snippet === state.snippet));
    }
    $("copy-status").textContent = "";
  }

  async function copySnippet() {
    const text = $("snippet").textContent;
    try {
      await navigator.clipboard.writeText(text);
      $("copy-status").textContent = "copied";
    } catch {
      const range = document.createRange(); // no clipboard access (plain http): select it
      range.selectNodeContents($("snippet"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      $("copy-status").textContent = "selected: press Ctrl+C to copy";
    }
  }

  // --- wiring ----------------------------------------------------------------------------------

  let keyTimer = null;

  function keyChanged() {
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    $("key-needed").hidden = true;
    clearTimeout(keyTimer);
    keyTimer = setTimeout(loadModels, 300);
  }

  async function firstLoad() {
    // Ask for a key before the first API call when the server needs one and this tab
    // has none, rather than collect a 401.
    let settings = { api_key_required: false };
    try {
      settings = await call("/playground/settings.json");
    } catch (error) {
      showError(error, "reading the server's settings");
    }
    const asking = settings.api_key_required && !storedKey();
    $("key-needed").hidden = !asking;
    if (!asking) await loadModels();
  }

  function start() {
    if (storedKey()) $("api-key").placeholder = "a key is stored for this tab";
    $("form").addEventListener("submit", submit);
    $("form").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
    });
    $("model").addEventListener("change", describeModel);
    $("api-key").addEventListener("input", keyChanged);
    $("spans").addEventListener("change", () => { $("threshold").disabled = !$("spans").checked; });
    $("file").addEventListener("change", readFile);
    $("file-clear").addEventListener("click", () => clearFile());
    $("copy-button").addEventListener("click", copySnippet);
    for (const tab of document.querySelectorAll("[data-snippet]")) {
      tab.addEventListener("click", () => { state.snippet = tab.dataset.snippet; renderSnippet(); });
    }
    firstLoad();
  }

  start();
})();
