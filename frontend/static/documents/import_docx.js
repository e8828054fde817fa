// Drafting page, 导入Word: POST the .docx to /api/documents/files/import-docx (nothing is saved
// there), fill the form from the answer and list plainly what could not be kept.
const $ = (s) => document.querySelector(s);
const box = $("#import-box");

function setError(message) {
  const el = $("#import-error");
  el.textContent = message || "";
  el.hidden = !message;
  if (message) $("#import-result").hidden = true;
}

function setSelect(sel, value) {
  if (!sel || !value) return false;
  const option = [...sel.options].find((o) => o.value === value);
  if (option) sel.value = value;
  return Boolean(option);
}

function blocksToText(blocks) {
  const lines = [];
  for (const b of blocks || []) {
    if (b.kind === "table") for (const row of b.rows || []) lines.push(row.join("\t"));
    else if ((b.text || "").trim()) lines.push(b.text.trim());
  }
  return lines.join("\n");
}

function unitNames() {
  const choices = JSON.parse(document.getElementById("unit-choices")?.textContent || "[]");
  return new Map(choices.map((u) => [u.name, String(u.id)]));
}

// "各县（市、区）人民政府、市政府各部门" → two names: separators inside brackets do not split.
function splitNames(text) {
  const out = [];
  let depth = 0, cur = "";
  for (const ch of String(text || "")) {
    if ("（(".includes(ch)) depth += 1;
    if ("）)".includes(ch)) depth = Math.max(0, depth - 1);
    if (depth === 0 && "、，,；;\n".includes(ch)) { out.push(cur); cur = ""; } else cur += ch;
  }
  out.push(cur);
  return out;
}

// 主送/抄送 names that match a unit of the picker become recipients; the rest are reported.
function addRecipients(key, names, known, report) {
  const input = $(`#${key}`);
  let specs = [];
  try { specs = JSON.parse(input.value || "[]").map(String); } catch (e) { specs = []; }
  const unmatched = [];
  for (const raw of names) {
    const name = raw.replace(/[：:。\s]+$/g, "").trim();
    if (!name) continue;
    const id = known.get(name);
    if (id) { if (!specs.includes(id)) specs.push(id); } else unmatched.push(name);
  }
  input.value = JSON.stringify(specs);
  if (unmatched.length) {
    report.push(interpolate(gettext("%(kind)s“%(names)s”未能对应到本系统的单位，请在“收文单位”中选择。"), {kind: key === "main" ? gettext("主送") : gettext("抄送"), names: unmatched.join(gettext("、"))}, true));
  }
}

function fill(data) {
  const f = data.fields || {};
  const report = [];
  const filled = [];
  if (f.title) { $("#title").value = f.title; filled.push(gettext("标题")); }
  if (f.doc_type) {
    if (setSelect($("#doc_type"), f.doc_type)) filled.push(gettext("文种"));
    else report.push(interpolate(gettext("文种“%(t)s”不在可选文种中，请手工选择。"), {t: f.doc_type}, true));
  }
  if (f.urgency) setSelect($("#urgency"), f.urgency);
  const body = $("#body");
  const text = blocksToText(f.body);
  if (text) {
    body.value = text;
    body.dataset.template = "0";
    filled.push(interpolate(gettext("正文（%(n)s段）"), {n: (f.body || []).length}, true));
  }
  const tables = (f.body || []).filter((b) => b.kind === "table").length;
  if (tables) report.push(interpolate(gettext("正文中的%(n)s个表格已按行填入正文（各格以制表符分隔），保存后按段落处理，请核对。"), {n: tables}, true));
  const notes = document.querySelector("[name=attachment_notes]");
  if (notes && (f.attachment_notes || []).length) { notes.value = f.attachment_notes.join("\n"); filled.push(gettext("附件说明")); }
  const remark = document.querySelector("[name=remark]");
  if (remark && f.remark) { remark.value = f.remark; filled.push(gettext("附注")); }
  const known = unitNames();
  const split = splitNames;
  const main = split(f.main_recipients_label);
  if (main.some((x) => x.trim())) { addRecipients("main", main, known, report); filled.push(gettext("主送")); }
  if ((f.cc_names || []).length) { addRecipients("cc", f.cc_names.flatMap(split), known, report); filled.push(gettext("抄送")); }
  document.dispatchEvent(new CustomEvent("yw:recipients-changed"));
  if (f.number) report.push(interpolate(gettext("原文的发文字号“%(n)s”未导入，登记时由系统编号。"), {n: f.number}, true));
  $("#import-summary").textContent = filled.length ? interpolate(gettext("已导入：%(items)s。请核对后保存草稿。"), {items: filled.join(gettext("、"))}, true) : gettext("文档中没有可导入的内容。");
  const list = $("#import-report");
  list.textContent = "";
  for (const line of [...(data.report || []), ...report]) {
    const li = document.createElement("li");
    li.textContent = line;
    list.appendChild(li);
  }
  $("#import-result").hidden = false;
}

async function importFile() {
  const file = $("#import-file").files[0];
  setError("");
  if (!file) { setError(gettext("请选择要导入的Word文档（.docx）。")); return; }
  if (file.size > Number(box.dataset.maxBytes || 0)) { setError(interpolate(gettext("文件过大（最大%(mb)s MB）。"), {mb: box.dataset.maxMb}, true)); return; }
  const button = $("#import-docx");
  button.disabled = true;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const res = await fetch("/api/documents/files/import-docx", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": box.dataset.csrf }, body: form,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { setError(data.detail || interpolate(gettext("导入失败（%(s)s）。"), {s: res.status}, true)); return; }
    fill(data);
  } catch (e) {
    setError(gettext("网络连接失败，请稍后重试。"));
  } finally {
    button.disabled = false;
  }
}

if (box) $("#import-docx").addEventListener("click", importFile);
