// Inline SVG icons of the meeting and training pages (no emoji: a machine without an emoji font
// shows a box, and a screen reader reads an emoji's own name, not ours). icon(name, label)
// gives an <svg role="img" aria-label=label>; without a label it is decoration (aria-hidden).
// The same shapes for the server's pages: frontend/templates/meetings/icon.html.
export const PATHS = {
  hand: "M12 2a1.5 1.5 0 0 1 1.5 1.5V11h1V4.5a1.5 1.5 0 0 1 3 0V12h1V7.5a1.5 1.5 0 0 1 3 0V15c0 4-3 7-7 7h-1.2a7 7 0 0 1-5.6-2.8l-4-5.3a1.5 1.5 0 0 1 2.3-1.9L7 14V5.5a1.5 1.5 0 0 1 3 0V11h.5V3.5A1.5 1.5 0 0 1 12 2z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  record: "M12 6a6 6 0 1 0 0 12 6 6 0 0 0 0-12z",
  question: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 17h-2v-2h2zm2.1-7.7-.9.9c-.7.7-1.2 1.3-1.2 2.8h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3a2 2 0 1 0-3.4-1.4H8a4 4 0 1 1 7.1 2.3z",
  mic: "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z",
};

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

export function icon(name, label = "", size = 16) {
  const a11y = label ? `role="img" aria-label="${esc(label)}"` : 'aria-hidden="true"';
  return `<svg class="icon icon-${name}" viewBox="0 0 24 24" width="${size}" height="${size}" focusable="false" ${a11y}>`
    + (label ? `<title>${esc(label)}</title>` : "") + `<path fill="currentColor" d="${PATHS[name]}"/></svg>`;
}
