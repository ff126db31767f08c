// The view of audit and check results (lib/audits, lib/checks): they share one shape, a
// `summary` line, `counts`, lists of findings and `charts` of x/y series, so one view shows them
// all: the summary, a table of counts, the first findings, and the charts as Plotly bars or lines.
import { type Figure, figureHtml, PLOTLY_MIME } from "./chart.js";
import { type Cell, cellOf, escapeHtml, fields, table, textFields } from "./html.js";
import type { Bundle } from "./views.js";

export interface ResultLike {
  summary: string;
  counts?: object;
  charts?: object;
}

const SHOWN = 15;

export function isResult(v: unknown): v is ResultLike {
  if (!isPlain(v) || typeof v.summary !== "string") return false;
  return isPlain(v.counts) || isPlain(v.charts);
}

export function resultBundle(r: ResultLike): Bundle {
  const entries = Object.entries(r).filter(([k]) => k !== "summary" && k !== "charts");
  // Groups ({ gender: { n, share }, age: {...} }) and lists as tables; the rest as name/value rows.
  const grouped = entries.filter(([, v]) => isGroups(v));
  const listed = entries.filter(([, v]) => Array.isArray(v) && v.length > 0 && v.every(isPlain));
  const scalars = entries.filter(([, v]) => !Array.isArray(v) && !isGroups(v));
  const rows = flatten(Object.fromEntries(scalars)).map(([k, v]): [string, Cell] => [
    k.replace(/^counts\./, ""),
    v,
  ]);
  const tables = [
    ...grouped.map(([k, v]) => groupTable(k, v as Record<string, Record<string, unknown>>)),
    ...listed.map(([k, v]) => listTable(k, v as Record<string, unknown>[])),
  ];
  const charts = r.charts as Record<string, Record<string, unknown>> | undefined;
  const fig = charts === undefined ? undefined : chartsFigure(charts);
  const html =
    `<p>${escapeHtml(r.summary)}</p>` +
    `<div style="display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start">` +
    fields(rows) +
    tables.join("") +
    `</div>` +
    (fig === undefined ? "" : figureHtml(fig));
  const bundle: Bundle = { "text/plain": textFields(r.summary, rows), "text/html": html };
  if (fig !== undefined) bundle[PLOTLY_MIME] = fig;
  return bundle;
}

/**
 * One subplot per chart. Each numeric series as long as `x` is a trace; a series `<name>X`
 * gives its own x to `<name>`; `low`/`high` become error bars of `y`. Bars for labels, lines
 * for numbers.
 */
export function chartsFigure(charts: Record<string, Record<string, unknown>>): Figure | undefined {
  const names = Object.keys(charts).filter((n) => Array.isArray(charts[n].x));
  if (names.length === 0) return undefined;
  const data: Record<string, unknown>[] = [];
  names.forEach((name, i) => {
    const c = charts[name];
    const x = c.x as unknown[];
    const axes = { xaxis: `x${i + 1}`, yaxis: `y${i + 1}` };
    const type = x.every((v) => typeof v === "number") ? "scatter" : "bar";
    for (const [key, series] of Object.entries(c)) {
      if (["x", "low", "high"].includes(key) || key.endsWith("X") || !isNumbers(series)) continue;
      const ownX = c[`${key}X`];
      const xs = Array.isArray(ownX) ? ownX : x;
      if (xs.length !== series.length) continue;
      const trace: Record<string, unknown> = { type, name: `${name}: ${key}`, x: xs, y: series };
      if (key === "y" && isNumbers(c.low) && isNumbers(c.high)) {
        const [low, high] = [c.low, c.high];
        trace.error_y = {
          type: "data",
          symmetric: false,
          array: series.map((v, j) => high[j] - v),
          arrayminus: series.map((v, j) => v - low[j]),
        };
      }
      data.push({ ...trace, ...axes });
    }
  });
  return {
    data,
    layout: {
      height: 320,
      grid: { rows: 1, columns: names.length, pattern: "independent" },
      annotations: names.map((n, i) => ({
        text: n,
        showarrow: false,
        xref: `x${i + 1} domain`,
        yref: `y${i + 1} domain`,
        x: 0.5,
        y: 1.12,
      })),
      margin: { l: 50, r: 20, t: 40, b: 70 },
      legend: { orientation: "h", y: -0.3 },
    },
    config: { displaylogo: false, responsive: true },
  };
}

function groupTable(name: string, groups: Record<string, Record<string, unknown>>): string {
  const keys = Object.keys(groups);
  const headers = [...new Set(keys.flatMap((k) => Object.keys(flattenObject(groups[k]))))];
  const rows = keys.map((k) => {
    const flat = flattenObject(groups[k]);
    return [k, ...headers.map((h) => cellOf(flat[h]))];
  });
  return table([name, ...headers], rows);
}

function listTable(name: string, items: Record<string, unknown>[]): string {
  const shown = items.slice(0, SHOWN);
  const headers = [...new Set(shown.flatMap((o) => Object.keys(o)))];
  const rows = shown.map((o) => headers.map((h) => cellOf(o[h])));
  const caption = items.length > SHOWN ? `${name} (first ${SHOWN} of ${items.length})` : name;
  return table(headers, rows, caption);
}

/** { a: 1, b: { c: 2 } } → [["a", 1], ["b.c", 2]]. */
function flatten(o: Record<string, unknown>, prefix = ""): [string, Cell][] {
  return Object.entries(o).flatMap(([k, v]): [string, Cell][] =>
    isPlain(v) ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, cellOf(v)]],
  );
}

/** A map of names to flat records, e.g. per bias type or per class. */
function isGroups(v: unknown): boolean {
  if (!isPlain(v)) return false;
  const values = Object.values(v);
  return (
    values.length > 1 && values.every((g) => isPlain(g) && !Object.values(g).some(Array.isArray))
  );
}

function flattenObject(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(flatten(o));
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function isNumbers(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === "number");
}
