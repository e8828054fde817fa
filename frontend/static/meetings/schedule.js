// The unit picker of the schedule form: people, co-hosts, units, "all units of a level"
// (within a unit), "all villages of a town". Each choice becomes a chip holding hidden inputs
// that the server expands (meetings.actions.expand_units); a preview shows how many units.
const chips = document.getElementById("chips");
const preview = document.getElementById("expand-preview");
const picker = document.getElementById("picker");
const KIND = { city: gettext("市"), county: gettext("县(市、区)"), town: gettext("镇(街道)"), village: gettext("村(社区)"), department: gettext("部门") };

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

async function getJSON(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || `HTTP ${res.status}`);
  return data;
}

function addChip(label, fields, key) {
  if (chips.querySelector(`[data-key="${CSS.escape(key)}"]`)) return;
  const chip = document.createElement("span");
  chip.className = "chip";
  chip.dataset.key = key;
  chip.innerHTML = esc(label) + fields.map(([n, v]) => `<input type="hidden" name="${esc(n)}" value="${esc(v)}">`).join("")
    + ' <button type="button" class="chip-x" aria-label="' + gettext("移除") + '">×</button>';
  chip.querySelector(".chip-x").addEventListener("click", () => { chip.remove(); refreshPreview(); });
  chips.appendChild(chip);
  refreshPreview();
}

function suggest(inputId, listId, search, choose) {
  const input = document.getElementById(inputId);
  const list = document.getElementById(listId);
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { list.innerHTML = ""; return; }
    timer = setTimeout(async () => {
      let items = [];
      try { items = await search(q); } catch (e) { list.innerHTML = `<li class="error">${esc(e.message)}</li>`; return; }
      list.innerHTML = items.slice(0, 12).map((it, i) => `<li><button type="button" data-i="${i}">${esc(it.label)}</button></li>`).join("")
        || '<li class="muted">' + gettext("没有找到。") + '</li>';
      list.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
        choose(items[Number(b.dataset.i)], input);
        list.innerHTML = "";
        input.value = "";
      }));
    }, 200);
  });
}

const searchPeople = async (q) => (await getJSON(`/api/office/people?q=${encodeURIComponent(q)}`))
  .map((p) => ({ id: p.person_id, label: `${p.display_name}（${p.unit_name}）` }));
const searchUnits = (kind) => async (q) => (await getJSON(`/api/office/units?q=${encodeURIComponent(q)}`))
  .filter((u) => !kind || u.kind === kind)
  .map((u) => ({ id: u.id, name: u.name, label: `${u.name} · ${KIND[u.kind] || u.kind}` }));

suggest("pick-person", "pick-person-suggest", searchPeople,
  (it) => addChip(interpolate(gettext("人员：%(name)s"), { name: it.label }, true), [["person", it.id]], `p${it.id}`));
suggest("pick-cohost", "pick-cohost-suggest", searchPeople,
  (it) => addChip(interpolate(gettext("联席主持人：%(name)s"), { name: it.label }, true), [["co_host", it.id]], `c${it.id}`));
suggest("pick-unit", "pick-unit-suggest", searchUnits(null),
  (it) => addChip(interpolate(gettext("单位：%(name)s"), { name: it.name }, true), [["unit", it.id]], `u${it.id}`));
suggest("pick-town", "pick-town-suggest", searchUnits("town"),
  (it) => addChip(interpolate(gettext("%(name)s所辖全部村(社区)"), { name: it.name }, true), [["villages_of", it.id]], `t${it.id}`));

let within = null;
suggest("pick-within", "pick-within-suggest", searchUnits(null), (it, input) => {
  within = it;
  setTimeout(() => { input.value = it.name; }, 0);
});
document.getElementById("pick-within").addEventListener("change", (e) => { if (!e.target.value.trim()) within = null; });
document.getElementById("add-level").addEventListener("click", () => {
  const sel = document.getElementById("pick-level");
  const label = sel.options[sel.selectedIndex].text;
  const scopeName = within ? within.name : (picker.dataset.scopeName || gettext("全市"));
  addChip(`${scopeName}：${label}`, [["level", sel.value], ["level_within", within ? within.id : ""]],
    `l${sel.value}-${within ? within.id : ""}`);
});

async function refreshPreview() {
  const params = new URLSearchParams();
  chips.querySelectorAll('input[name="unit"]').forEach((i) => params.append("unit", i.value));
  chips.querySelectorAll('input[name="villages_of"]').forEach((i) => params.append("villages_of", i.value));
  const levels = [...chips.querySelectorAll('input[name="level"]')];
  const people = chips.querySelectorAll('input[name="person"]').length;
  let units = new Set();
  try {
    if (params.toString()) (await getJSON(`/api/meetings/units/expand?${params}`)).forEach((u) => units.add(u.id));
    for (const lv of levels) {
      const w = lv.nextElementSibling && lv.nextElementSibling.value;
      const q = new URLSearchParams({ level: lv.value });
      if (w) q.set("within", w);
      (await getJSON(`/api/meetings/units/expand?${q}`)).forEach((u) => units.add(u.id));
    }
    preview.textContent = interpolate(gettext("将邀请 %(people)s 人、%(units)s 个单位。"), { people, units: units.size }, true);
    preview.classList.remove("error");
  } catch (e) {
    preview.textContent = e.message;
    preview.classList.add("error");
  }
}
