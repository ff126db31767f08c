// How values look in a notebook: one MIME bundle per value, with text/plain always, HTML tables
// for tunebook's objects, and Plotly charts for runs, comparisons, audits and checks. lib/ knows
// nothing of this; any object can choose its own bundle with [Symbol.for("tunebook.mime")]().
import { inspect } from "node:util";
import type { DataFrame } from "danfojs-node";
import { Dataset, OverfitMonitor, Session, TrainingRun } from "../lib/index.js";
import type { EvalReport, EvalScores, RunResult } from "../lib/index.js";
import { PLOTLY_MIME } from "./chart.js";
import { cellOf, table } from "./html.js";
import { isResult, resultBundle } from "./results.js";
import * as view from "./views.js";
import type { Bundle } from "./views.js";

export type { Bundle };

/** The method an object may define to render itself in the tunebook kernel. */
export const MIME_METHOD = Symbol.for("tunebook.mime");

/** The bundle for any value: tunebook's views first, then util.inspect as text/plain. */
export function mimeBundle(value: unknown): Bundle {
  const bundle = { ...(richBundle(value) ?? { "text/plain": plainText(value) }) };
  const html = bundle["text/html"];
  // Dollar signs in data ("$40 from savings") are money, not LaTeX for MathJax.
  if (typeof html === "string") bundle["text/html"] = `<div class="tex2jax_ignore">${html}</div>`;
  return bundle;
}

/** Whether a bundle carries a chart (and so needs plotly.js on the page for its HTML). */
export function hasChart(bundle: Bundle): boolean {
  return PLOTLY_MIME in bundle;
}

function richBundle(value: unknown): Bundle | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const own = (value as { [MIME_METHOD]?: unknown })[MIME_METHOD];
  if (typeof own === "function") return own.call(value) as Bundle;
  if (value instanceof TrainingRun) return view.runBundle(value);
  if (value instanceof Session) return view.sessionBundle(value);
  if (value instanceof Dataset) return view.datasetBundle(value);
  if (isFrame(value)) return view.frameBundle(value);
  if (value instanceof OverfitMonitor) return resultBundle(value.result());
  if (isResult(value)) return resultBundle(value);
  if (isReport(value)) return view.reportBundle(value);
  if (isScores(value)) return view.scoresBundle("scores", value);
  if (isRunResult(value)) return view.runResultBundle(value);
  if (Array.isArray(value) && value.length > 0 && value.every(isScores)) {
    return view.comparisonBundle(value.map((r, i) => [labelOf(r, `evaluation ${i + 1}`), r]));
  }
  if (isScoresByName(value)) return view.comparisonBundle(Object.entries(value));
  if (Array.isArray(value) && isRecordList(value)) return recordsBundle(value);
  return undefined;
}

// ---- anything else: lists of flat records as tables -------------------------------------

function recordsBundle(items: Record<string, unknown>[]): Bundle {
  const headers = [...new Set(items.slice(0, 50).flatMap((o) => Object.keys(o)))];
  const rows = items.slice(0, 50).map((o) => headers.map((h) => cellOf(o[h])));
  const caption = items.length > rows.length ? `${rows.length} of ${items.length} rows` : undefined;
  return { "text/plain": plainText(items), "text/html": table(headers, rows, caption) };
}

export function plainText(value: unknown): string {
  return inspect(value, { depth: 3, maxArrayLength: 30, breakLength: 100, colors: false });
}

function labelOf(v: unknown, fallback: string): string {
  const label = (v as { label?: unknown }).label;
  return typeof label === "string" ? label : fallback;
}

function isScores(v: unknown): v is EvalScores {
  return has(v, ["n", "accuracy", "per_class", "macro_f1"]);
}

function isReport(v: unknown): v is EvalReport {
  return isScores(v) && has(v, ["label", "validation_loss", "perplexity", "samples"]);
}

function isRunResult(v: unknown): v is RunResult {
  return has(v, ["status", "steps", "finalLoss", "validationLoss", "seconds", "tokens"]);
}

/** `{ before, after, baseline }`: evaluations keyed by a name, shown side by side. */
function isScoresByName(v: unknown): v is Record<string, EvalScores> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const values = Object.values(v);
  return values.length > 0 && values.every(isScores);
}

function isRecordList(v: unknown[]): v is Record<string, unknown>[] {
  return v.every(
    (o) =>
      typeof o === "object" &&
      o !== null &&
      Object.getPrototypeOf(o) === Object.prototype &&
      Object.values(o).every((x) => x === null || typeof x !== "object" || Array.isArray(x)),
  );
}

/** danfojs frames; by shape, since danfojs builds frames of more than one DataFrame class. */
function isFrame(v: object): v is DataFrame {
  return v.constructor?.name === "DataFrame" && has(v, ["columns", "values", "index", "shape"]);
}

function has(v: unknown, keys: string[]): boolean {
  return typeof v === "object" && v !== null && keys.every((k) => k in v);
}
