// Drafting form: recipient picker (units and whole levels), templates per 文种, title suggestion.
const $ = (s) => document.querySelector(s);
const choices = JSON.parse(document.getElementById("unit-choices")?.textContent || "[]");
const names = new Map(choices.map((u) => [String(u.id), u.name]));
const SCOPES = { county: gettext("其下各县（市、区）"), town: gettext("其下各镇（街道）"), village: gettext("其下各村（社区）"), all: gettext("其下全部单位"), departments: gettext("其下各部门") };
const found = new Map();

const pick = $("#pick-unit");
for (const u of choices) {
  const o = document.createElement("option");
  o.value = u.id;
  o.textContent = "　".repeat(Math.max(0, u.depth)) + u.name;
  pick.appendChild(o);
}

function label(spec) {
  const m = /^under:(\d+):(\w+)$/.exec(spec);
  if (m) return `${names.get(m[1]) || interpolate(gettext("单位%(id)s"), { id: m[1] }, true)}${SCOPES[m[2]] || ""}`;
  return names.get(String(spec)) || interpolate(gettext("单位%(id)s"), { id: spec }, true);
}

function read(id) {
  try { return JSON.parse($(id).value || "[]").map(String); } catch (e) { return []; }
}

function render() {
  for (const key of ["main", "cc"]) {
    const list = $(`#${key}-list`);
    list.textContent = "";
    const specs = read(`#${key}`);
    if (!specs.length) list.textContent = gettext("（无）");
    specs.forEach((spec, i) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = label(spec);
      const x = document.createElement("button");
      x.type = "button";
      x.textContent = "×";
      x.setAttribute("aria-label", gettext("移除"));
      x.onclick = () => { specs.splice(i, 1); $(`#${key}`).value = JSON.stringify(specs); render(); };
      chip.appendChild(x);
      list.appendChild(chip);
    });
  }
  preview();
}

// The 越级 copy is offered only when the rules allow the skip, and never ticked for the user.
function offerSkip(show) {
  const option = $("#skip-cc-option");
  if (!option) return;
  option.hidden = !show;
  if (!show) $("#add_skipped_cc").checked = false;
}

let previewTimer = null;
function preview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const main = read("#main"), cc = read("#cc");
    const out = $("#recipient-preview");
    if (!main.length) { out.textContent = ""; offerSkip(false); return; }
    const params = new URLSearchParams({ main: main.join(","), cc: cc.join(","), doc_type: $("#doc_type").value });
    const res = await fetch(`/api/documents/recipients/preview?${params}`);
    const data = await res.json();
    if (!res.ok) { out.textContent = data.detail || ""; offerSkip(false); return; }
    let text = interpolate(gettext("主送 %(main)s 个单位，抄送 %(cc)s 个单位。"), { main: data.main_count, cc: data.cc_count }, true);
    if (data.skipped.length) text += " " + interpolate(gettext("越级：将越过 %(units)s，须抄送。"), { units: data.skipped.map((u) => u.name).join(gettext("、")) }, true);
    if (data.problem) text += " " + data.problem;
    out.textContent = text;
    offerSkip(data.skipped.length > 0);
  }, 250);
}

function add(key) {
  const typed = $("#pick-search").value.trim();
  const id = (typed && found.get(typed)) || pick.value;
  if (typed && found.get(typed)) names.set(String(id), typed);
  if (!id) return;
  const scope = $("#pick-scope").value;
  const spec = scope ? `under:${id}:${scope}` : String(id);
  const specs = read(`#${key}`);
  if (!specs.includes(spec)) specs.push(spec);
  $(`#${key}`).value = JSON.stringify(specs);
  $("#pick-search").value = "";
  render();
}
$("#add-main").onclick = () => add("main");
$("#add-cc").onclick = () => add("cc");

let searchTimer = null;
$("#pick-search").addEventListener("input", (e) => {
  clearTimeout(searchTimer);
  const q = e.target.value.trim();
  if (q.length < 2 || found.has(q)) return;
  searchTimer = setTimeout(async () => {
    const res = await fetch(`/api/office/units?q=${encodeURIComponent(q)}`);
    if (!res.ok) return;
    const dl = $("#pick-found");
    dl.textContent = "";
    for (const u of await res.json()) {
      found.set(u.name, u.id);
      const o = document.createElement("option");
      o.value = u.name;
      dl.appendChild(o);
    }
  }, 250);
});

let templates = null;
async function loadTemplates() {
  if (!templates) {
    const res = await fetch("/api/documents/types");
    templates = res.ok ? await res.json() : [];
  }
  return templates;
}
$("#doc_type").addEventListener("change", preview);
$("#doc_type").addEventListener("change", async (e) => {
  const body = $("#body");
  const t = (await loadTemplates()).find((x) => x.value === e.target.value);
  if (t && (!body.value.trim() || body.dataset.template === "1")) {
    body.value = t.body_template.map((b) => b.text).join("\n");
    body.dataset.template = "1";
  }
});
$("#body").addEventListener("input", (e) => { e.target.dataset.template = "0"; });
$("#suggest-title").onclick = async () => {
  const res = await fetch(`/api/documents/suggest-title?doc_type=${encodeURIComponent($("#doc_type").value)}&subject=${encodeURIComponent($("#subject").value)}`);
  if (res.ok) $("#title").value = (await res.json()).title;
};

// the Word import (import_docx.js) fills #main/#cc and asks for the chips to be redrawn
document.addEventListener("yw:recipients-changed", render);
render();
