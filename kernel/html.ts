// Small HTML and number-formatting helpers for the kernel's rich display: escaped tables that
// read well in the classic notebook, JupyterLab and nbconvert's HTML export alike.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type Cell = string | number | boolean | null | undefined;

/** A table with a header row; cells are escaped, numbers formatted with `num`. */
export function table(headers: string[], rows: Cell[][], caption?: string): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${r.map((c) => `<td${alignOf(c)}>${cellText(c)}</td>`).join("")}</tr>`)
    .join("");
  return (
    `<table class="tunebook">${captionOf(caption)}<thead><tr>${head}</tr></thead>` +
    `<tbody>${body}</tbody></table>`
  );
}

/** A two-column table of names and values. */
export function fields(pairs: [string, Cell][], caption?: string): string {
  const row = ([k, v]: [string, Cell]) =>
    `<tr><th style="text-align:left">${escapeHtml(k)}</th>` +
    `<td${alignOf(v)}>${cellText(v)}</td></tr>`;
  const body = pairs.map(row).join("");
  return `<table class="tunebook">${captionOf(caption)}<tbody>${body}</tbody></table>`;
}

/** Names and values as text lines under a title, names padded to one width. */
export function textFields(title: string, pairs: [string, Cell][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return [title, ...pairs.map(([k, v]) => `  ${k.padEnd(width)}  ${plain(v)}`)].join("\n");
}

/** Plain-text columns, for text/plain: each column as wide as its widest cell. */
export function textTable(headers: string[], rows: Cell[][]): string {
  const all = [headers, ...rows.map((r) => r.map(plain))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (c ?? "").padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Any value as a table cell: record references as file:line, other objects as JSON. */
export function cellOf(v: unknown): Cell {
  if (v === null || v === undefined) return "";
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (isRef(v)) return refText(v);
  if (Array.isArray(v) && v.length > 0 && v.every(isRef))
    return clip(v.map(refText).join(", "), 80);
  return clip(JSON.stringify(v) ?? String(v), 80);
}

function isRef(v: unknown): v is { file: string; line: number } {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.file === "string" && typeof r.line === "number" && Object.keys(r).length === 2;
}

function refText(r: { file: string; line: number }): string {
  return `${r.file.split(/[/\\]/).pop()}:${r.line}`;
}

/** Four significant digits, or the value as it is when that would hide it (0, integers). */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined) return "n/a";
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** A share as a percentage with one decimal. */
export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? "n/a" : `${(x * 100).toFixed(1)}%`;
}

/** Cuts long text for a table cell, marking the cut. */
export function clip(s: string, max = 80): string {
  return s.length <= max ? s : s.slice(0, max - 1) + "…";
}

function captionOf(caption: string | undefined): string {
  return caption === undefined ? "" : `<caption>${escapeHtml(caption)}</caption>`;
}

function plain(c: Cell): string {
  if (typeof c === "number") return num(c);
  return c === null || c === undefined ? "" : String(c);
}

function cellText(c: Cell): string {
  return escapeHtml(plain(c));
}

function alignOf(c: Cell): string {
  return typeof c === "number" ? ' style="text-align:right"' : ' style="text-align:left"';
}
