// lstmkit explore: the gates and states of a recurrent model, per token and unit (no libraries, no network).
// Data: the JSON of the element #data, written by lstmkit.insight.explore. Arrays are base64 float32, (T, H).
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const CW = 12; // px per token column
  const VIRIDIS = ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e", "#21918c",
    "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219", "#fde725"];
  const CIVIDIS = ["#00224e", "#002e6a", "#1a386f", "#32436d", "#434e6c", "#535a6d", "#61656f", "#6f7073", "#7d7c78",
    "#8c8878", "#9b9476", "#aba072", "#bcae6c", "#cdbb63", "#dec958", "#f0d846", "#fee838"];
  const GATES01 = new Set(["i", "f", "o", "r", "z"]); // sigmoid gates: [0, 1] on viridis; the rest signed on cividis
  const ROW_HELP = { i: "input gate", f: "forget gate", g: "candidate", o: "output gate", c: "cell state",
    h: "hidden state", r: "reset gate", z: "update gate", n: "candidate" };

  // ----- small helpers -------------------------------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function f32(b64) {
    const s = atob(b64), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return new Float32Array(u.buffer);
  }
  const hex = (h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16));
  const STOPS = { viridis: VIRIDIS.map(hex), cividis: CIVIDIS.map(hex) };
  function colour(scale, t) { // t in [0, 1] -> [r, g, b], linear between the 17 stops
    const s = STOPS[scale], x = Math.min(1, Math.max(0, t)) * (s.length - 1), k = Math.min(s.length - 2, Math.floor(x));
    const a = s[k], b = s[k + 1], w = x - k;
    return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * w));
  }
  function scaleOf(name, arr) {
    if (GATES01.has(name)) return { scale: "viridis", lo: 0, hi: 1 };
    let m = 1e-6;
    for (const v of arr) m = Math.max(m, Math.abs(v));
    return { scale: "cividis", lo: -m, hi: m };
  }

  // ----- tokenisation and the forward pass (lstmkit.data.imdb.make_encoder / lstmkit.data.text) ---------
  const KERAS_FILTERS = /[!"#$%&()*+,\-./:;<=>?@[\\\]^_`{|}~\t\n]/g;
  function tokenize(text, how) {
    if (how === "lstmkit") { // lstmkit.data.text.tokenize: <br /> dropped, lower-cased, words with inner apostrophes
      return text.replace(/<br\s*\/?>/gi, " ").toLowerCase().match(/[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu) || [];
    } // Keras' IMDB word index: ASCII lower-casing, filter characters to spaces, split on spaces
    return text.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(KERAS_FILTERS, " ").split(" ").filter((w) => w);
  }
  function encode(text, m) {
    const ids = [], shown = [];
    if (m.start !== null && m.start !== undefined) { ids.push(m.start); shown.push("<start>"); }
    for (const w of tokenize(text, m.tokenizer)) {
      if (Object.prototype.hasOwnProperty.call(m.words, w)) { ids.push(m.words[w]); shown.push(w); }
      else { ids.push(m.oov); shown.push("[" + w + "]"); }
    }
    return { ids, tokens: shown };
  }
  const sigmoid = (x) => 1 / (1 + Math.exp(-x));
  function Net(m) { // Embedding -> LSTM | GRU | SimpleRNN -> Dense(1, sigmoid); Keras weight layouts
    const W = {};
    for (const [k, v] of Object.entries(m.weights)) W[k] = { shape: v.shape, a: f32(v.data) };
    const H = m.units, E = W.embeddings.shape[1], G = W.kernel.shape[1];
    const fresh = () => ({ h: new Float64Array(H), c: new Float64Array(H) });
    function step(st, id, rec) { // one token: new state; rec(name, values) gets the gates and states
      const x = W.embeddings.a.subarray(id * E, (id + 1) * E), K = W.kernel.a, R = W.recurrent_kernel.a, B = W.bias.a;
      const zx = new Float64Array(G), zh = new Float64Array(G);
      for (let e = 0; e < E; e++) { const xe = x[e]; if (xe !== 0) for (let j = 0; j < G; j++) zx[j] += xe * K[e * G + j]; }
      const hin = st.h;
      const next = fresh();
      if (m.kind === "lstm") { // gates i, f, c (g), o
        for (let u = 0; u < H; u++) { const hu = hin[u]; if (hu !== 0) for (let j = 0; j < G; j++) zh[j] += hu * R[u * G + j]; }
        const i = new Float64Array(H), f = new Float64Array(H), g = new Float64Array(H), o = new Float64Array(H);
        for (let u = 0; u < H; u++) {
          const z = (k) => zx[k * H + u] + zh[k * H + u] + B[k * H + u];
          i[u] = sigmoid(z(0)); f[u] = sigmoid(z(1)); g[u] = Math.tanh(z(2)); o[u] = sigmoid(z(3));
          next.c[u] = f[u] * st.c[u] + i[u] * g[u]; next.h[u] = o[u] * Math.tanh(next.c[u]);
        }
        if (rec) { rec("i", i); rec("f", f); rec("g", g); rec("o", o); rec("c", next.c); rec("h", next.h); }
      } else if (m.kind === "gru") { // gates z, r, h (n); reset_after=True: r scales h R + b_rh
        const z = new Float64Array(H), r = new Float64Array(H), n = new Float64Array(H);
        const bx = B.subarray(0, G), bh = B.subarray(G, 2 * G); // reset_after: input and recurrent biases
        for (let u = 0; u < H; u++) { const hu = hin[u]; if (hu !== 0) for (let j = 0; j < G; j++) zh[j] += hu * R[u * G + j]; }
        for (let u = 0; u < H; u++) {
          z[u] = sigmoid(zx[u] + bx[u] + zh[u] + bh[u]);
          r[u] = sigmoid(zx[H + u] + bx[H + u] + zh[H + u] + bh[H + u]);
          n[u] = Math.tanh(zx[2 * H + u] + bx[2 * H + u] + r[u] * (zh[2 * H + u] + bh[2 * H + u]));
        }
        for (let u = 0; u < H; u++) next.h[u] = z[u] * hin[u] + (1 - z[u]) * n[u];
        if (rec) { rec("r", r); rec("z", z); rec("n", n); rec("h", next.h); }
      } else { // simple_rnn
        for (let u = 0; u < H; u++) { const hu = hin[u]; if (hu !== 0) for (let j = 0; j < G; j++) zh[j] += hu * R[u * G + j]; }
        for (let u = 0; u < H; u++) next.h[u] = Math.tanh(zx[u] + zh[u] + B[u]);
        if (rec) rec("h", next.h);
      }
      return next;
    }
    function score(st) {
      let y = W.dense_bias.a[0];
      for (let u = 0; u < H; u++) y += st.h[u] * W.dense_kernel.a[u];
      return sigmoid(y);
    }
    const pads = [fresh()]; // pads[j]: the state after j padding steps (id 0) from zeros, as pad_sequences feeds them
    function padState(j) { while (pads.length <= j) pads.push(step(pads[pads.length - 1], 0, null)); return pads[j]; }
    // a text's record: gates and states per step, the running prediction (the model on each padded prefix)
    function run(ids) {
      const L = m.maxlen, T = ids.length, rows = {};
      const start = (k) => (L === null ? fresh() : padState(L - k));
      let st = start(T);
      for (let t = 0; t < T; t++) {
        st = step(st, ids[t], (name, v) => { (rows[name] = rows[name] || new Float32Array(T * H)).set(v, t * H); });
      }
      const scores = [];
      for (let k = 1; k <= T; k++) { let s = start(k); for (let t = 0; t < k; t++) s = step(s, ids[t], null); scores.push(score(s)); }
      return { rows, scores };
    }
    return { run, H };
  }

  // ----- state ---------------------------------------------------------------------------------------
  const texts = D.texts.map((t) => decodeRecord(t));
  function decodeRecord(t) {
    const values = {};
    for (const [k, names] of Object.entries(t.values)) {
      values[k] = {};
      for (const [n, v] of Object.entries(names)) values[k][n] = typeof v === "string" ? f32(v) : v;
    }
    return { ...t, values };
  }
  const layer0 = D.layers.length ? D.layers[0].key : null;
  const S = { text: 0, layer: layer0, sorted: true, name: null, step: 0, row: 0, unit: null, searchRow: null };
  const net = D.model ? Net(D.model) : null;
  const layerOf = (key) => D.layers.find((l) => l.key === key);
  function order() { // units in display order: by hold-gate mean (longest memory first) when sorted
    const L = layerOf(S.layer), units = [...Array(L.units).keys()];
    const info = D.search && D.search.layers[S.layer];
    if (S.sorted && info && info.hold_mean) units.sort((a, b) => info.hold_mean[b] - info.hold_mean[a] || a - b);
    return units;
  }

  // ----- layout --------------------------------------------------------------------------------------
  const app = document.getElementById("app");
  const kindWord = D.kind === "tagger" ? "tagger" : "classifier";
  app.append(el("header", {}, el("h1", { text: "lstmkit explore: " + D.run }),
    el("p", { class: "sub", text: D.kind ? `a ${kindWord}; ${D.layers.length} recurrent layer(s) probed. ` +
      "Heat maps: units (rows) by tokens (columns). Keys: Tab to the maps or units, arrows move, Enter selects." :
      "charts of this run's results" })));
  const controls = el("section", { class: "controls", "aria-label": "what to show" });
  const textSel = el("select", { id: "text-select", "aria-label": "text", onchange: () => { S.text = +textSel.value; S.step = 0; draw(); } });
  const layerSel = el("select", { id: "layer-select", "aria-label": "layer", onchange: () => { S.layer = layerSel.value; S.row = 0; S.unit = null; draw(); } });
  for (const L of D.layers) layerSel.append(el("option", { value: L.key, text: `${L.name} (${L.kind}, layer ${L.layer}, ${L.direction})` }));
  const sortBox = el("input", { type: "checkbox", id: "sort", checked: true, onchange: () => { S.sorted = sortBox.checked; draw(); } });
  const input = el("textarea", { id: "input", rows: 2, "aria-label": "type a text for the model",
    placeholder: "Type a text: the model reads it here" });
  const predOut = el("output", { id: "prediction", "aria-live": "polite" });
  const note = el("p", { id: "input-note", class: "note" });
  if (D.kind) {
    controls.append(el("label", {}, "text ", textSel), el("label", {}, "layer ", layerSel),
      el("label", {}, sortBox, " sort units by forget-gate mean (longest memory first)"));
    app.append(controls, el("section", { class: "typing" }, input, predOut, note));
  }
  const view = el("section", { id: "view", "aria-label": "gates and states per token" });
  const readout = el("p", { id: "readout", "aria-live": "polite", text: "hover or move over a heat map" });
  const side = el("section", { id: "units-panel", "aria-label": "units" });
  const charts = el("section", { id: "charts" });
  if (D.kind) app.append(el("div", { class: "main" }, el("div", { class: "left" }, readout, view), side));
  app.append(charts);

  if (net) note.textContent = `The model runs in this page (${D.model.params.toLocaleString()} parameters inlined). ` +
    (D.model.tokenizer === "keras" ? "Words are split as Keras' IMDB index was built (ASCII lower-case, punctuation " +
      "to spaces); a word outside the index or its first num_words ids becomes the unknown id, shown [in brackets]."
      : "Words are split as lstmkit.data.text.tokenize does; unknown words become <unk>, shown [in brackets].");
  else if (D.served) note.textContent = "The Python model (lstmkit inspect serve) reads what you type.";
  else if (D.kind) { note.textContent = `Typing needs the Python model here: ${D.model_note}. Run lstmkit inspect serve --run DIR.`; input.disabled = true; }

  let pending = null;
  input.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(readTyped, 150); });
  async function readTyped() {
    const text = input.value;
    if (!text.trim()) return;
    let rec;
    if (net) {
      const { ids, tokens } = encode(text, D.model);
      const cut = D.model.maxlen !== null && ids.length > D.model.maxlen ? ids.length - D.model.maxlen : 0;
      const r = net.run(ids.slice(cut));
      rec = { label: "your text", tokens: tokens.slice(cut), ids: ids.slice(cut), scores: r.scores, tags: null, values: { [layer0]: r.rows } };
    } else if (D.served) {
      const res = await fetch("/api/trace", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) });
      const body = await res.json();
      if (!res.ok) { note.textContent = body.error; return; }
      rec = decodeRecord(body);
    } else return;
    if (texts.length > D.texts.length) texts.pop();
    texts.push(rec);
    S.text = texts.length - 1; S.step = 0;
    draw();
  }

  // ----- drawing -------------------------------------------------------------------------------------
  let maps = [];
  function draw() {
    if (!D.kind) return;
    textSel.replaceChildren(...texts.map((t, i) => el("option", { value: i, text: `${t.label}: ${t.tokens.slice(0, 8).join(" ")}…` })));
    textSel.value = S.text;
    const t = texts[S.text], vals = t.values[S.layer] || {}, L = layerOf(S.layer), T = t.tokens.length;
    const rows = L.rows.filter((n) => vals[n]);
    if (!rows.includes(S.name)) S.name = rows.includes(HOLD_OR_H()) ? HOLD_OR_H() : rows[0];
    S.step = Math.min(S.step, T - 1);
    const ord = order(), H = L.units, CH = Math.max(3, Math.min(9, Math.floor(216 / H)));
    const tokenRow = el("div", { class: "tokens", style: `width:${T * CW}px` },
      ...t.tokens.map((w, s) => el("span", { class: "tok", "data-step": s, title: `step ${s}: ${w}`, text: w })));
    const predRow = t.scores ? scoreStrip(t.scores) : tagStrip(t.tags || []);
    maps = rows.map((name) => {
      const a = vals[name], sc = scaleOf(name, a);
      const cv = el("canvas", { class: "heat", width: T * CW, height: H * CH, "data-row": name,
        "aria-label": `${name}: ${ROW_HELP[name] || name}, ${H} units by ${T} tokens` });
      const ctx = cv.getContext("2d"), img = ctx.createImageData(T * CW, H * CH);
      for (let r = 0; r < H; r++) {
        const u = ord[r];
        for (let s = 0; s < T; s++) {
          const [R, G, B] = colour(sc.scale, (a[s * H + u] - sc.lo) / (sc.hi - sc.lo));
          for (let y = r * CH; y < (r + 1) * CH; y++) for (let x = s * CW; x < (s + 1) * CW; x++) {
            const p = (y * T * CW + x) * 4; img.data[p] = R; img.data[p + 1] = G; img.data[p + 2] = B; img.data[p + 3] = 255;
          }
        }
      }
      ctx.putImageData(img, 0, 0);
      const cursor = el("div", { class: "cursor", hidden: true });
      const wrap = el("div", { class: "map" }, cv, cursor);
      const at = (ev) => { const b = cv.getBoundingClientRect();
        return [Math.min(T - 1, Math.floor((ev.clientX - b.left) / CW)), Math.min(H - 1, Math.floor((ev.clientY - b.top) / CH))]; };
      cv.addEventListener("mousemove", (ev) => { const [s, r] = at(ev); show(name, s, r, false); });
      cv.addEventListener("click", (ev) => { const [s, r] = at(ev); S.name = name; S.step = s; S.row = r; selectUnit(ord[r], name); place(); });
      return { name, a, sc, cv, cursor, CH, block: el("div", { class: "row" },
        el("div", { class: "rowlabel", title: ROW_HELP[name] || name, text: name }), wrap, legend(name, sc)) };
    });
    const grid = el("div", { class: "grid", tabindex: 0, role: "application", id: "maps",
      "aria-label": "heat maps: arrows move between steps and units, Page Up/Down between rows, Enter selects the unit" },
    el("div", { class: "row" }, el("div", { class: "rowlabel", text: "" }), tokenRow),
    el("div", { class: "row" }, el("div", { class: "rowlabel", text: t.scores ? "ŷ" : "tag" }), predRow),
    ...maps.map((m) => m.block));
    grid.addEventListener("keydown", keys);
    view.replaceChildren(grid);
    if (t.scores) {
      const p = t.scores[T - 1];
      predOut.textContent = `prediction after the last token: ${p.toFixed(6)} (${p >= 0.5 ? "positive" : "negative"})`;
      predOut.dataset.value = String(p);
    } else { predOut.textContent = `${T} tokens tagged`; predOut.dataset.value = ""; }
    drawUnits();
    place();
  }
  function HOLD_OR_H() { const info = D.search && D.search.layers[S.layer]; return (info && info.hold_gate) || "h"; }
  function legend(name, sc) {
    const cv = el("canvas", { class: "legend", width: 120, height: 10, "aria-hidden": "true" }), ctx = cv.getContext("2d");
    for (let x = 0; x < 120; x++) { const [r, g, b] = colour(sc.scale, x / 119); ctx.fillStyle = `rgb(${r},${g},${b})`; ctx.fillRect(x, 0, 1, 10); }
    return el("div", { class: "legendbox", title: `${sc.scale} colour scale` }, cv,
      el("div", { class: "ticks" }, el("span", { text: sc.lo.toFixed(2) }), el("span", { text: (0.5 * (sc.lo + sc.hi)).toFixed(2) }),
        el("span", { text: sc.hi.toFixed(2) })), el("div", { class: "scalename", text: `${ROW_HELP[name] || name} (${sc.scale})` }));
  }
  function scoreStrip(scores) {
    const T = scores.length, h = 36, g = sv("svg", { width: T * CW, height: h, class: "strip", role: "img",
      "aria-label": "running prediction after each token" });
    g.append(sv("line", { x1: 0, x2: T * CW, y1: h / 2, y2: h / 2, class: "mid" }));
    scores.forEach((p, s) => {
      const c = sv("rect", { x: s * CW + 1, width: CW - 2, y: h - p * h, height: Math.max(1, p * h), class: p >= 0.5 ? "pos" : "neg" });
      c.append(sv("title", {}, `after step ${s}: ${p.toFixed(4)}`));
      g.append(c);
    });
    return g;
  }
  function tagStrip(tags) {
    return el("div", { class: "tokens tags", style: `width:${tags.length * CW}px` }, ...tags.map((w) => el("span", { class: "tok", text: w })));
  }
  function show(name, s, r, keep) {
    const m = maps.find((x) => x.name === name); if (!m) return;
    const t = texts[S.text], L = layerOf(S.layer), u = order()[r], v = m.a[s * L.units + u];
    readout.textContent = `${name} (${ROW_HELP[name] || name}), unit ${u}, step ${s} "${t.tokens[s]}" = ${v.toFixed(4)}` +
      (t.scores ? `; prediction after it ${t.scores[s].toFixed(4)}` : t.tags ? `; tag ${t.tags[s]}` : "");
    Object.assign(readout.dataset, { row: name, unit: u, step: s, value: String(v) });
    if (keep) { S.name = name; S.step = s; S.row = r; }
  }
  function place() {
    for (const m of maps) m.cursor.hidden = true;
    const m = maps.find((x) => x.name === S.name); if (!m) return;
    Object.assign(m.cursor.style, { left: `${S.step * CW}px`, top: `${S.row * m.CH}px`, width: `${CW}px`, height: `${m.CH}px` });
    m.cursor.hidden = false;
    document.querySelectorAll(".tok.on").forEach((e) => e.classList.remove("on"));
    const tok = view.querySelector(`.tokens .tok[data-step="${S.step}"]`); if (tok) tok.classList.add("on");
    show(S.name, S.step, S.row, true);
  }
  function keys(ev) {
    const L = layerOf(S.layer), T = texts[S.text].tokens.length, names = maps.map((m) => m.name);
    let k = names.indexOf(S.name);
    const moves = { ArrowLeft: () => { S.step = Math.max(0, S.step - 1); }, ArrowRight: () => { S.step = Math.min(T - 1, S.step + 1); },
      ArrowUp: () => { if (S.row > 0) S.row--; else if (k > 0) { k--; S.row = L.units - 1; } },
      ArrowDown: () => { if (S.row < L.units - 1) S.row++; else if (k < names.length - 1) { k++; S.row = 0; } },
      PageUp: () => { k = Math.max(0, k - 1); }, PageDown: () => { k = Math.min(names.length - 1, k + 1); },
      Home: () => { S.step = 0; }, End: () => { S.step = T - 1; },
      Enter: () => { selectUnit(order()[S.row], S.name); } };
    if (!moves[ev.key]) return;
    ev.preventDefault();
    moves[ev.key]();
    S.name = names[k];
    place();
  }

  // ----- units and their top contexts (LSTMVis's search, computed at export time) ----------------------
  function drawUnits() {
    const info = D.search && D.search.layers[S.layer], L = layerOf(S.layer);
    const list = el("div", { class: "units", role: "listbox", id: "units", "aria-label": "units; arrows move, Enter or click selects" });
    for (const u of order()) {
      const hold = info && info.hold_mean ? ` ${info.hold_gate}̄ ${info.hold_mean[u].toFixed(2)}` : "";
      const b = el("button", { class: "unit" + (u === S.unit ? " sel" : ""), "data-unit": u, role: "option",
        "aria-selected": String(u === S.unit), text: `unit ${u}${hold}`, onclick: () => selectUnit(u, null) });
      b.addEventListener("keydown", (ev) => {
        const sib = { ArrowDown: b.nextElementSibling, ArrowRight: b.nextElementSibling, ArrowUp: b.previousElementSibling, ArrowLeft: b.previousElementSibling }[ev.key];
        if (sib) { ev.preventDefault(); sib.focus(); }
      });
      list.append(b);
    }
    const rowSel = el("select", { id: "search-row", "aria-label": "row searched", onchange: () => { S.searchRow = rowSel.value; drawContexts(); } });
    for (const n of L.rows) rowSel.append(el("option", { value: n, text: `${n}: ${ROW_HELP[n] || n}` }));
    if (!L.rows.includes(S.searchRow)) S.searchRow = L.rows.includes("h") ? "h" : L.rows[0];
    rowSel.value = S.searchRow;
    side.replaceChildren(el("h2", { text: "Units" }),
      el("p", { class: "note", text: info && info.hold_mean ? `mean ${info.hold_gate} over ${D.search.texts.length} sample texts: near 1 keeps its state longest`
        : D.search ? "this layer has no gate that keeps the state: units in their order" : "no sample searched" }),
      list, el("h2", { text: "Where it is most active" }), el("label", {}, "row ", rowSel), el("ol", { id: "contexts", class: "contexts" }));
    drawContexts();
  }
  function selectUnit(u, name) {
    S.unit = u; if (name) S.searchRow = name;
    drawUnits();
    const b = side.querySelector(`.unit[data-unit="${u}"]`); if (b && document.activeElement && document.activeElement.classList.contains("unit")) b.focus();
  }
  function drawContexts() {
    const ol = side.querySelector("#contexts"), info = D.search && D.search.layers[S.layer];
    if (S.unit === null || !info) { ol.replaceChildren(el("li", { class: "note", text: info ? "select a unit (click a row or a unit)" : "no sample" })); return; }
    ol.dataset.unit = S.unit; ol.dataset.row = S.searchRow;
    ol.replaceChildren(...info.top[S.searchRow][S.unit].map(([i, s, v]) => {
      const toks = D.search.texts[i].tokens, a = Math.max(0, s - 6), b = Math.min(toks.length, s + 3), fin = D.search.final ? D.search.final[i] : null;
      return el("li", { "data-text": i, "data-step": s, "data-value": v }, el("span", { class: "val", text: v.toFixed(3) }), " ",
        (a > 0 ? "… " : ""), ...toks.slice(a, b).flatMap((w, k) => [a + k === s ? el("mark", { text: w }) : w, " "]), b < toks.length ? "…" : "",
        el("span", { class: "where", text: ` sample ${i}, step ${s}` + (fin === null ? "" : `, ŷ ${fin.toFixed(2)}`) }));
    }));
  }

  // ----- charts: gradient flow and memory-task results (SVG; hover for values, toggle models) ----------
  // Okabe-Ito colours (colour-blind safe), one per model in every chart
  const MODEL_COLOURS = { simple_rnn: "#d55e00", lstm: "#0072b2", gru: "#009e73", ln_lstm: "#cc79a7" };
  const SPARE = ["#e69f00", "#56b4e9", "#000000", "#f0e442"];
  const colourOf = (g, groups) => MODEL_COLOURS[g] || SPARE[groups.indexOf(g) % SPARE.length];
  function lineChart(title, xLabel, yLabel, series, { logY = false, yMin = null, yMax = null } = {}) {
    const W = 560, H = 300, P = { l: 60, r: 12, t: 28, b: 40 }, box = el("figure", { class: "chart" });
    const groups = [...new Set(series.map((s) => s.group))], on = new Set(groups);
    const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => !logY || y > 0);
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const fy = (y) => (logY ? Math.log10(y) : y);
    let y0 = yMin !== null ? yMin : Math.min(...ys.map(fy)), y1 = yMax !== null ? yMax : Math.max(...ys.map(fy));
    if (y1 <= y0) y1 = y0 + 1;
    const x0 = Math.min(...xs), x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
    const X = (x) => P.l + ((x - x0) / (x1 - x0)) * (W - P.l - P.r), Y = (y) => H - P.b - ((fy(y) - y0) / (y1 - y0)) * (H - P.t - P.b);
    const svg = sv("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": title });
    svg.append(sv("text", { x: P.l, y: 16, class: "title" }, title));
    for (let k = 0; k <= 4; k++) {
      const yv = y0 + (k / 4) * (y1 - y0), yy = H - P.b - (k / 4) * (H - P.t - P.b);
      svg.append(sv("line", { x1: P.l, x2: W - P.r, y1: yy, y2: yy, class: "gridline" }),
        sv("text", { x: P.l - 6, y: yy + 4, class: "tick end" }, logY ? (10 ** yv).toExponential(0) : yv.toFixed(2)));
      const xv = x0 + (k / 4) * (x1 - x0);
      svg.append(sv("text", { x: X(xv), y: H - P.b + 16, class: "tick mid" }, String(Math.round(xv))));
    }
    svg.append(sv("text", { x: (W + P.l) / 2, y: H - 6, class: "axis mid" }, xLabel),
      sv("text", { x: 14, y: H / 2, class: "axis mid", transform: `rotate(-90 14 ${H / 2})` }, yLabel));
    const lines = series.map((s) => {
      const col = colourOf(s.group, groups), pts = s.points.filter((p) => !logY || p[1] > 0);
      const path = sv("polyline", { points: pts.map((p) => `${X(p[0])},${Y(p[1])}`).join(" "), fill: "none", stroke: col,
        "stroke-width": 2, "stroke-dasharray": s.dash ? "5 4" : "none", "data-series": s.name, visibility: "visible" });
      svg.append(path);
      return { s, pts, path };
    });
    const dot = sv("circle", { r: 4, class: "dot", visibility: "hidden" }), tip = sv("text", { class: "tip", visibility: "hidden" });
    svg.append(dot, tip);
    svg.addEventListener("mousemove", (ev) => {
      const b = svg.getBoundingClientRect(), mx = ((ev.clientX - b.left) * W) / b.width, my = ((ev.clientY - b.top) * H) / b.height;
      let best = null;
      for (const l of lines) if (on.has(l.s.group)) for (const p of l.pts) {
        const d = (X(p[0]) - mx) ** 2 + (Y(p[1]) - my) ** 2; if (!best || d < best.d) best = { d, l, p };
      }
      if (!best) return;
      dot.setAttribute("cx", X(best.p[0])); dot.setAttribute("cy", Y(best.p[1])); dot.setAttribute("visibility", "visible");
      tip.textContent = `${best.l.s.name}: ${xLabel} ${best.p[0]}, ${best.p[1].toPrecision(4)}`;
      tip.setAttribute("x", Math.min(X(best.p[0]) + 8, W - 250)); tip.setAttribute("y", Math.max(Y(best.p[1]) - 8, 30)); tip.setAttribute("visibility", "visible");
    });
    const toggles = el("div", { class: "toggles" }, ...groups.map((g) => {
      const cb = el("input", { type: "checkbox", checked: true, "data-group": g, onchange: () => {
        if (cb.checked) on.add(g); else on.delete(g);
        for (const l of lines) l.path.setAttribute("visibility", on.has(l.s.group) ? "visible" : "hidden");
      } });
      return el("label", { style: `color:${colourOf(g, groups)}` }, cb, " " + g);
    }));
    box.append(svg, toggles);
    return box;
  }
  const C = D.charts || {};
  if (C.gradients) {
    const series = [];
    for (const [model, stages] of Object.entries(C.gradients.flows)) for (const [stage, f] of Object.entries(stages)) {
      series.push({ name: `${model} ${stage}`, group: model, dash: stage !== "trained", points: f.distance.map((d, k) => [d, f.dh[k]]) });
    }
    charts.append(el("h2", { text: "Gradient flow" }), el("p", { class: "note", text: "‖∂ℓ/∂h_t‖ against the distance from the loss; dashed: at initialisation, solid: trained (" + C.gradients.file + ")" }),
      lineChart("gradient norm by distance from the loss", "distance (steps)", "mean ‖∂ℓ/∂h_t‖ (log)", series, { logY: true }));
  }
  if (C.memory) {
    const by = {};
    for (const r of C.memory.results) ((by[r.model] = by[r.model] || {})[r.length] = by[r.model][r.length] || []).push(r.accuracy);
    const series = Object.entries(by).map(([model, lens]) => ({ name: model, group: model,
      points: Object.entries(lens).map(([L, a]) => [+L, a.reduce((x, y) => x + y, 0) / a.length]).sort((p, q) => p[0] - q[0]) }));
    charts.append(el("h2", { text: `Memory task: ${C.memory.task}` }),
      lineChart(`held-out score by distractor length (${C.memory.task})`, "length L", "score", series, { yMin: 0, yMax: 1 }));
  }

  window.lstmkit = { data: D, texts, state: S, encode: (s) => encode(s, D.model), order, net };
  draw();
  window.lstmkitReadyMs = performance.now();
  document.body.dataset.ready = "1";
})();
