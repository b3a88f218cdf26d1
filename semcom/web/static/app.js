// semcom web: the page is a client of the JSON API of semcom.web.app (no libraries, nothing from a CDN).
"use strict";
const $ = (id) => document.getElementById(id);
let uploaded = null; // data URL of an uploaded file

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
  const body = {task: $("task").value, channel: $("channel").value, csi: $("csi").checked,
    block_len: Number($("block_len").value), snr_db: Number($("snr").value), steps: Number($("steps").value),
    seed: Number($("seed").value), params: {}};
  for (const input of $("params").querySelectorAll("input")) body.params[input.dataset.param] = Number(input.value);
  if (uploaded) body.image = uploaded; else body.example = $("example").value;
  return body;
}

function row(name, value) {
  const tr = document.createElement("tr");
  for (const v of [name, value]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
  return tr;
}

function show(doc) {
  $("negotiated").textContent = `task: ${doc.task} (similarity ${doc.score.toFixed(3)})`;
  $("negotiated").dataset.task = doc.task;
  $("original").src = doc.original;
  $("result").src = doc.result;
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
  rows.push(["channel", `${doc.channel}${doc.csi ? ", CSI" : ""} at ${doc.snr_db} dB (realised ${doc.realised_snr_db.toFixed(2)} dB)`],
    ["channel uses", `${doc.channel_uses}`], ["CBR", `${doc.cbr.toFixed(5)} (1/${(1 / doc.cbr).toFixed(1)})`],
    ["image", `${doc.width}×${doc.height}`], ["transmission", doc.transmission_id], ["seed", `${doc.seed}`]);
  if (doc.diffusion_steps) rows.push(["diffusion steps", `${doc.diffusion_steps}`]);
  for (const [k, v] of Object.entries(doc.timings_s)) rows.push([`time: ${k}`, `${(v * 1000).toFixed(1)} ms`]);
  rows.push(["time in all (page)", `${(doc.wall_s * 1000).toFixed(0)} ms`]);
  const tbody = $("numbers").tBodies[0];
  tbody.replaceChildren(...rows.map(([k, v]) => row(k, v)));
  tbody.dataset.ready = "1";
}

function plot(doc) {
  const W = 520, H = 300, L = 60, R = 16, T = 20, B = 44;
  const series = [["proposed (through the services)", doc.proposed, "#1f6feb"],
    [doc.classical.name + " (in the page's server)", doc.classical.points, "#d1495b"]];
  const xs = doc.proposed.map((p) => p.snr_db);
  const ys = series.flatMap(([, pts]) => pts.map((p) => p.value));
  const x0 = Math.min(...xs), x1 = Math.max(...xs) + 1e-9, y0 = Math.min(...ys), y1 = Math.max(...ys) + 1e-9;
  const px = (x) => L + (x - x0) / (x1 - x0 || 1) * (W - L - R);
  const py = (y) => H - B - (y - y0) / (y1 - y0 || 1) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("role", "img");
  svg.style.width = "100%"; svg.style.maxWidth = `${W}px`;
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e); return e;
  };
  el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#333"});
  el("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#333"});
  for (const x of xs) el("text", {x: px(x), y: H - B + 16, "text-anchor": "middle", "font-size": 11}, `${x}`);
  for (const y of [y0, (y0 + y1) / 2, y1]) el("text", {x: L - 6, y: py(y) + 4, "text-anchor": "end", "font-size": 11}, y.toFixed(2));
  el("text", {x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", "font-size": 12}, `SNR (dB), ${doc.channel}`);
  el("text", {x: 12, y: T - 6, "font-size": 12}, doc.metric);
  series.forEach(([name, pts, colour], i) => {
    el("polyline", {points: pts.map((p) => `${px(p.snr_db)},${py(p.value)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2});
    for (const p of pts) el("circle", {cx: px(p.snr_db), cy: py(p.value), r: 3, fill: colour, class: "point"});
    el("text", {x: L + 8, y: T + 14 + 14 * i, fill: colour, "font-size": 12}, name);
  });
  $("plot").replaceChildren(svg);
  $("plot").dataset.ready = "1";
}

async function run(kind) {
  showError("");
  $("busy").hidden = false;
  for (const b of document.querySelectorAll("button")) b.disabled = true;
  try {
    if (kind === "send") show(await api("/api/send", request()));
    else plot(await api("/api/sweep", {...request(), snrs: [1, 4, 7, 10, 13]}));
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
    li.textContent = r.error ? `${r.transmission_id}: error: ${r.error}` :
      `${r.transmission_id} ${r.task}, ${r.channel} ${r.snr_db} dB, ${r.width}×${r.height}, decode ${(r.decode_s * 1000).toFixed(0)} ms`;
    $("stream").prepend(li);
  };
  events.addEventListener("failure", (m) => showError(JSON.parse(m.data).error));
}

let channels = {}; // the model table of /api/settings: name -> {help, fading, params: [{name, default, lo, hi, help}]}

function showParams() {
  // the chosen model's own parameters (Rician K-factor, ...), from the same table as txclient's flags
  const model = channels[$("channel").value];
  $("channel").title = model ? model.help : "";
  $("params").replaceChildren(...(model ? model.params : []).map((p) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, {type: "number", min: p.lo, max: p.hi, step: "any", value: p.default, title: p.help});
    input.dataset.param = p.name;
    label.append(`${p.name} `, input);
    return label;
  }));
}

async function init() {
  $("snr").oninput = () => { $("snr-out").textContent = `${$("snr").value} dB`; };
  $("upload").onchange = () => {
    const file = $("upload").files[0];
    if (!file) { uploaded = null; return; }
    const reader = new FileReader();
    reader.onload = () => { uploaded = reader.result; $("example").value = ""; $("original").src = uploaded; };
    reader.readAsDataURL(file);
  };
  $("example").onchange = () => {
    if ($("example").value) { uploaded = null; $("upload").value = ""; $("original").src = `/api/examples/${$("example").value}.png`; }
  };
  $("send").onclick = () => run("send");
  $("sweep").onclick = () => run("sweep");
  try {
    const s = await api("/api/settings");
    for (const name of s.examples) $("example").add(new Option(name, name));
    $("example").value = s.examples[0];
    $("original").src = `/api/examples/${s.examples[0]}.png`;
    channels = s.channels;
    for (const name of Object.keys(channels)) $("channel").add(new Option(name, name));
    $("channel").onchange = showParams;
    showParams();
    $("snr").min = s.snr_range_db[0]; $("snr").max = s.snr_range_db[1];
    $("tasks-hint").textContent = "tasks: " + Object.entries(s.tasks).map(([t, p]) => `${t} (e.g. "${p[0]}")`).join(", ");
    document.body.dataset.ready = "1";
  } catch (e) {
    showError(e.message);
  }
  listen();
}
init();
