// semcom web: the page is a client of the JSON API of semcom.web.app (no libraries, nothing from a CDN).
"use strict";
const $ = (id) => document.getElementById(id);
let uploaded = null; // data URL of an uploaded file
let channels = {}; // the model table of /api/settings: name -> {help, fading, params: [{name, default, lo, hi, help}]}

// the chain's stages in the order a transmission goes through them, in words
const STAGES = [["tx_decode_image", "transmitter: reading the image"], ["negotiate", "task negotiation"],
  ["encode", "transmitter: encoding"], ["channel", "channel"], ["rx_queue", "receiver: waiting in its queue"],
  ["decode", "receiver: decoding"], ["rx_encode_png", "receiver: writing the result"]];

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  let doc;
  try { doc = await res.json(); } catch (e) { throw new Error(`${res.status} ${res.statusText}`); }
  if (!res.ok) throw new Error(doc.error || `${res.status} ${res.statusText}`);
  return doc;
}

function request() {
  const body = {task: $("task").value, channel: $("channel").value, csi: $("csi").value,
    block_len: Number($("block_len").value), snr_db: Number($("snr").value), steps: Number($("steps").value),
    seed: Number($("seed").value), params: {}};
  for (const input of $("params").querySelectorAll("[data-param]")) body.params[input.dataset.param] = Number(input.value);
  if (uploaded) body.image = uploaded; else body.example = $("example").value;
  return body;
}

// "rician (K-factor 5) at 10 dB", "noiseless": a channel as a person reads it
function channelText(model, params, snr) {
  if (model === "noiseless") return "noiseless";
  const given = Object.entries(params || {}).map(([k, v]) => `${k.replace(/_/g, "-")} ${+v}`);
  return `${model}${given.length ? ` (${given.join(", ")})` : ""} at ${+snr} dB`;
}

function row(name, value) {
  const tr = document.createElement("tr");
  for (const v of [name, value]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
  return tr;
}

// what the last send or sweep showed goes before anything new is asked for
function clearOutput() {
  showError("");
  $("negotiated").textContent = "";
  delete $("negotiated").dataset.task;
  $("result-figure").hidden = true;
  $("result").removeAttribute("src");
  $("legend").replaceChildren();
  $("numbers").tBodies[0].replaceChildren();
  $("numbers").tBodies[0].dataset.ready = "";
  $("plot").replaceChildren();
  $("plot").dataset.ready = "";
  $("downloads").replaceChildren();
}

function link(text, href, filename) {
  const a = document.createElement("a");
  Object.assign(a, {href, download: filename, textContent: text});
  return a;
}

function textLink(text, filename, mime, content) {
  return link(text, URL.createObjectURL(new Blob([content], {type: mime})), filename);
}

const csvCell = (v) => /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
const csv = (rows) => rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";

function show(doc) {
  $("negotiated").textContent = `task: ${doc.task} (similarity ${doc.score.toFixed(3)})`;
  $("negotiated").dataset.task = doc.task;
  $("original").src = doc.original;
  $("original").hidden = false;
  $("result").src = doc.result;
  $("result-figure").hidden = false;
  $("result-caption").textContent = doc.task === "reconstruction" ? "reconstruction" : "segmentation over the image";
  const legend = $("legend");
  legend.replaceChildren();
  for (const c of doc.legend || []) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.style.background = c.colour;
    li.append(sw, c.name);
    legend.appendChild(li);
  }
  const rows = [];
  if (doc.psnr_db !== undefined) rows.push(["PSNR", `${doc.psnr_db.toFixed(2)} dB`]);
  if (doc.ms_ssim !== undefined) rows.push(["MS-SSIM", doc.ms_ssim.toFixed(4)]);
  const knowledge = {perfect: "perfect CSI", estimated: "CSI estimated from pilots", none: "no CSI"}[doc.csi];
  rows.push(["channel", `${channelText(doc.channel, doc.params, doc.snr_db)}, ${knowledge}`],
    ["realised SNR", `${doc.realised_snr_db.toFixed(2)} dB`],
    ["channel uses", `${doc.channel_uses}${doc.pilot_uses ? ` + ${doc.pilot_uses} pilots` : ""}`],
    ["CBR", `${doc.cbr.toFixed(5)} (1/${(1 / doc.cbr).toFixed(1)})` + (doc.pilot_uses ?
      `; with pilots ${((doc.channel_uses + doc.pilot_uses) / (3 * doc.width * doc.height)).toFixed(5)}` : "")],
    ["image", `${doc.width}×${doc.height}`], ["transmission", doc.transmission_id], ["seed", `${doc.seed}`]);
  if (doc.diffusion_steps) rows.push(["diffusion steps", `${doc.diffusion_steps}`]);
  const known = new Set(STAGES.map(([k]) => k));
  for (const [key, words] of STAGES.concat(Object.keys(doc.timings_s).filter((k) => !known.has(k)).map((k) => [k, k]))) {
    if (doc.timings_s[key] !== undefined) rows.push([`time: ${words}`, `${(doc.timings_s[key] * 1000).toFixed(1)} ms`]);
  }
  rows.push(["time in all (page)", `${(doc.wall_s * 1000).toFixed(0)} ms`]);
  const tbody = $("numbers").tBodies[0];
  tbody.replaceChildren(...rows.map(([k, v]) => row(k, v)));
  tbody.dataset.ready = "1";
  const stem = `semcom_${doc.transmission_id}`;
  const numbers = Object.fromEntries(Object.entries(doc).filter(([k]) => !["original", "result", "colour"].includes(k)));
  const kind = doc.task === "reconstruction" ? "reconstruction" : "overlay";
  const links = [link(`${kind} (PNG)`, doc.result, `${stem}_${kind}.png`)];
  if (doc.colour) links.push(link("segmentation (PNG)", doc.colour, `${stem}_segmentation.png`));
  links.push(textLink("numbers (JSON)", `${stem}.json`, "application/json", JSON.stringify(numbers, null, 1)),
    textLink("numbers (CSV)", `${stem}.csv`, "text/csv", csv([["name", "value"], ...rows])));
  $("downloads").replaceChildren("download: ", ...links);
}

// round axis ticks: steps of 1, 2, 2.5 or 5 times a power of ten, at most about `count` of them
function niceTicks(lo, hi, count = 6) {
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= count);
  const first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toFixed(10)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) + (Math.abs(step / mag - 2.5) < 1e-9 ? 1 : 0);
  return {ticks, lo: first, hi: last, label: (v) => v.toFixed(decimals)};
}

// the sweep as it stands: both systems' points so far, drawn again as each one arrives
function plot(sweep) {
  const meta = sweep.meta;
  const W = 640, H = 400, L = 66, R = 20, T = 16, B = 104;
  const series = [["proposed", meta.systems.proposed, "#1f6feb"], ["classical", meta.systems.classical, "#d1495b"]];
  const all = series.flatMap(([key]) => sweep.points[key]);
  const xs = niceTicks(Math.min(...meta.snrs), Math.max(...meta.snrs), 7);
  const ys = all.length ? niceTicks(Math.min(...all.map((p) => p.value)), Math.max(...all.map((p) => p.value)), 6)
    : niceTicks(0, 1, 5);
  const px = (x) => L + (x - xs.lo) / (xs.hi - xs.lo) * (W - L - R);
  const py = (y) => H - B - (y - ys.lo) / (ys.hi - ys.lo) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${meta.metric} against SNR`);
  const el = (name, attrs, text, parent = svg) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e); return e;
  };
  for (const x of xs.ticks) {
    el("line", {x1: px(x), y1: T, x2: px(x), y2: H - B, class: "grid"});
    el("text", {x: px(x), y: H - B + 20, "text-anchor": "middle", class: "tick"}, xs.label(x));
  }
  for (const y of ys.ticks) {
    el("line", {x1: L, y1: py(y), x2: W - R, y2: py(y), class: "grid"});
    el("text", {x: L - 8, y: py(y) + 5, "text-anchor": "end", class: "tick"}, ys.label(y));
  }
  el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, class: "frame"});
  el("text", {x: (L + W - R) / 2, y: H - B + 46, "text-anchor": "middle", class: "axis"},
    `SNR (dB), ${channelText(meta.channel, meta.params, "").replace(/ at .*$/, "")}`);
  el("text", {x: 16, y: (T + H - B) / 2, "text-anchor": "middle", class: "axis",
    transform: `rotate(-90 16 ${(T + H - B) / 2})`}, `${meta.metric} (${meta.unit})`);
  const unit = meta.unit === "%" ? " %" : ` ${meta.unit}`;
  for (const [key, name, colour] of series) {
    const pts = sweep.points[key];
    if (pts.length > 1) el("polyline", {points: pts.map((p) => `${px(p.snr_db)},${py(p.value)}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 2.5, class: `curve ${key}`});
    for (const p of pts) {
      const c = el("circle", {cx: px(p.snr_db), cy: py(p.value), r: 4.5, fill: colour, class: `point ${key}`});
      el("title", {}, `${name}: ${p.value.toFixed(2)}${unit} at ${p.snr_db} dB`, c);
    }
  }
  // hovering anywhere above an SNR shows both systems' values there
  const step = meta.snrs.length > 1 ? (px(meta.snrs[1]) - px(meta.snrs[0])) : W - L - R;
  for (const snr of meta.snrs) {
    const values = series.map(([key, name]) => {
      const p = sweep.points[key].find((q) => q.snr_db === snr);
      return p ? `${name}: ${p.value.toFixed(2)}${unit}` : null;
    }).filter(Boolean);
    if (!values.length) continue;
    const band = el("rect", {x: px(snr) - step / 2, y: T, width: step, height: H - T - B, class: "hover"});
    el("title", {}, `${snr} dB\n${values.join("\n")}`, band);
  }
  series.forEach(([key, name, colour], i) => {  // the legend, below the axes: never over a curve
    const y = H - B + 72 + 20 * i;
    el("line", {x1: L, y1: y - 5, x2: L + 26, y2: y - 5, stroke: colour, "stroke-width": 2.5});
    el("circle", {cx: L + 13, cy: y - 5, r: 4.5, fill: colour});
    el("text", {x: L + 34, y, class: "legend"}, name);
  });
  const figure = [svg];
  if (meta.unit === "%") {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = "An image without labels has no accuracy to measure: each system is scored by the share of " +
      "pixels where its segmentation over this channel agrees with its own segmentation over a noiseless one " +
      "(how much the channel changes its answer, not how right the answer is).";
    figure.push(note);
  }
  $("plot").replaceChildren(...figure);
}

async function sweep() {
  const body = {...request(), snrs: [1, 4, 7, 10, 13]};
  const res = await fetch("/api/sweep/stream", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  if (!res.ok) {
    let doc = {};
    try { doc = await res.json(); } catch (e) { /* not JSON: the status says it */ }
    throw new Error(doc.error || `${res.status} ${res.statusText}`);
  }
  const state = {meta: null, points: {proposed: [], classical: []}};
  const reader = res.body.getReader(), decoder = new TextDecoder();
  let buffered = "", total = body.snrs.length;
  for (;;) {
    const {value, done} = await reader.read();
    if (value) buffered += decoder.decode(value, {stream: true});
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const event = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (event.event === "error") throw new Error(event.error);
      if (event.event === "meta") {
        state.meta = event; total = event.snrs.length;
        $("negotiated").textContent = `task: ${event.task}`;
        $("negotiated").dataset.task = event.task;
      } else if (event.event === "point") {
        state.points[event.system].push(event);
        $("busy").textContent = `sweep: ${state.points.proposed.length} of ${total} SNR points`;
      } else if (event.event === "done") {
        state.meta = event;
        plot(state);
        $("plot").dataset.ready = "1";
        const rows = event.snrs.map((snr, i) => [snr, event.proposed[i].value, event.classical.points[i].value]);
        const stem = `semcom_sweep_${event.task}_${event.channel}`;
        $("downloads").replaceChildren("download: ",
          textLink("sweep (JSON)", `${stem}.json`, "application/json", JSON.stringify(event, null, 1)),
          textLink("sweep (CSV)", `${stem}.csv`, "text/csv",
            csv([["snr_db", `proposed ${event.metric} (${event.unit})`,
              `${event.classical.name} ${event.metric} (${event.unit})`], ...rows])));
        return;
      }
      if (state.meta && event.event === "point") plot(state);
    }
    if (done) throw new Error("the sweep stopped before its last point (the page's server went away?)");
  }
}

async function run(kind) {
  clearOutput();
  $("busy").textContent = kind === "send" ? "sending…" : "sweep: starting…";
  $("busy").hidden = false;
  for (const b of document.querySelectorAll("button")) b.disabled = true;
  try {
    if (kind === "send") show(await api("/api/send", request()));
    else await sweep();
  } catch (e) {
    showError(e.message);
  } finally {
    $("busy").hidden = true;
    for (const b of document.querySelectorAll("button")) b.disabled = false;
  }
}

function listen() {
  const events = new EventSource("/api/stream");
  events.onmessage = (m) => {
    const r = JSON.parse(m.data);
    const li = document.createElement("li");
    const head = document.createElement("b");
    head.textContent = `#${r.sequence} `;
    li.append(head, r.error ? `${r.transmission_id}: error: ${r.error}` :
      `${r.transmission_id}: ${r.task}, ${channelText(r.channel, r.params, r.snr_db)}, ${r.width}×${r.height}, ` +
      `decoded in ${(r.decode_s * 1000).toFixed(0)} ms`);
    $("stream").prepend(li);
    $("stream-status").hidden = true;
  };
  // the live list's own trouble is shown beside it: the message box above is for what the user asked
  events.onopen = () => { $("stream-status").hidden = true; };
  events.addEventListener("failure", (m) => {
    $("stream-status").textContent = `${JSON.parse(m.data).error} (reconnecting)`;
    $("stream-status").hidden = false;
  });
}

function showParams() {
  // the chosen model's own parameters (Rician K-factor, ...), from the same table as txclient's flags
  const model = channels[$("channel").value];
  $("channel").title = model ? model.help : "";
  $("params").replaceChildren(...(model ? model.params : []).map((p) => {
    const label = document.createElement("label");
    let input;
    if (p.choices && p.choices.length) {  // a parameter with set values (subcarrier spacing, FFT size): a list
      input = document.createElement("select");
      for (const c of p.choices) input.add(new Option(`${c}`, `${c}`, false, c === p.default));
      input.title = p.help;
    } else {
      input = document.createElement("input");
      Object.assign(input, {type: "number", min: p.lo, max: p.hi, step: p.integer ? 1 : "any", value: p.default,
        title: `${p.help} (${p.lo} to ${p.hi})`});
    }
    input.id = `param-${p.name}`;
    input.dataset.param = p.name;
    label.append(`${p.name.replace(/_/g, "-")} `, input);
    return label;
  }));
}

function preview(src) {
  clearOutput();
  $("original").src = src;
  $("original").hidden = false;
}

// the lists come from the services: while they are away, say so and ask again until they answer
async function loadSettings() {
  try {
    const s = await api("/api/settings");
    const example = $("example");
    example.replaceChildren(new Option("(upload instead)", ""));
    for (const name of s.examples) example.add(new Option(name, name));
    channels = s.channels;
    $("channel").replaceChildren(...Object.keys(channels).map((name) => new Option(name, name)));
    showParams();
    $("snr").min = s.snr_range_db[0]; $("snr").max = s.snr_range_db[1];
    $("tasks-hint").textContent = "tasks: " + Object.entries(s.tasks).map(([t, p]) => `${t} (e.g. "${p[0]}")`).join(", ");
    if (!uploaded) { example.value = s.examples[0]; preview(`/api/examples/${s.examples[0]}.png`); }
    showError("");
    document.body.dataset.ready = "1";
  } catch (e) {
    showError(`${e.message} (trying again every 3 s)`);
    setTimeout(loadSettings, 3000);
  }
}

function init() {
  $("snr").oninput = () => { $("snr-out").textContent = `${$("snr").value} dB`; };
  $("upload").onchange = () => {
    const file = $("upload").files[0];
    if (!file) { uploaded = null; return; }
    const reader = new FileReader();
    reader.onload = () => { uploaded = reader.result; $("example").value = ""; preview(uploaded); };
    reader.readAsDataURL(file);
  };
  $("example").onchange = () => {
    if ($("example").value) { uploaded = null; $("upload").value = ""; preview(`/api/examples/${$("example").value}.png`); }
  };
  $("channel").onchange = showParams;
  $("send").onclick = () => run("send");
  $("sweep").onclick = () => run("sweep");
  loadSettings();
  listen();
}
init();
