// Scores model answers against references: accuracy, format consistency, hallucination rate,
// per-class precision / recall / F1 and macro F1, plus perplexity from a mean loss.
import { TunebookError } from "../errors.js";

/** One answer to score. `input` is the prompt text; only JSON hallucination checks read it. */
export interface ScoredItem {
  prediction: string;
  reference: string;
  input?: string;
}

/** What a correct answer looks like. */
export type AnswerSpec =
  | { kind: "label"; labels: string[] }
  | { kind: "json"; requiredKeys?: string[] }
  | { kind: "free" };

/** Scores for one class of a label task; `n` is the number of references of that class. */
export interface ClassScores {
  n: number;
  correct: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** Field names are snake_case because the CLI writes this object to metrics.json as is. */
export interface EvalScores {
  n: number;
  accuracy: number;
  format_consistency: number | null;
  hallucination_rate: number | null;
  per_class: Record<string, ClassScores>;
  macro_f1: number | null;
}

/** Trims and collapses runs of whitespace to one space; case is kept. */
export function normalizeAnswer(text: string): string {
  return text.trim().replace(/\s+/g, " ");
}

/**
 * Scores predictions against references. Both sides are normalised first (trimmed, whitespace
 * runs collapsed to one space); comparisons stay case-sensitive, because a label written in
 * another case is an answer the caller's code would not recognise.
 *
 * - label: accuracy = exact match. format_consistency = share of predictions that look like a
 *   label: non-empty and made only of the character kinds the label set uses (lower-case
 *   letters, upper-case letters, digits, and the literal punctuation and spaces found in the
 *   labels), so "transfer_money" is well-formed for CLINC150 even when it is not a label, while
 *   "Transfer money." is not. hallucination_rate = share of predictions outside the label set
 *   (malformed ones included). per_class holds each class seen as a reference or as an in-set
 *   prediction; macro_f1 averages F1 over the classes that occur as references, since a class
 *   with no references has no recall to measure. Division by zero gives 0.
 * - json: the text is parsed as given (collapsing whitespace would alter string values).
 *   accuracy = prediction and reference parse to equal JSON values (key order ignored, strings
 *   exact). format_consistency = prediction parses as a JSON object (no code fences, no
 *   trailing prose) holding every required key. hallucination_rate = share of all predictions
 *   that parse as an object holding a string or number leaf that does not occur in the item's
 *   input (case-insensitive, whitespace collapsed): an invented slot value. It needs `input` on
 *   every item and is null when no item has one. per_class is empty and macro_f1 null.
 * - free: accuracy = exact match; format_consistency, hallucination_rate and macro_f1 are null.
 */
export function scorePredictions(items: ScoredItem[], spec: AnswerSpec): EvalScores {
  if (items.length === 0) {
    throw new TunebookError("scorePredictions: no items to score; pass at least one prediction");
  }
  if (spec.kind === "label") return scoreLabels(items, spec.labels);
  if (spec.kind === "json") return scoreJson(items, spec.requiredKeys ?? []);
  if (spec.kind === "free") return scoreFree(items);
  throw new TunebookError(
    `scorePredictions: unknown spec kind "${(spec as { kind: unknown }).kind}"; ` +
      `use "label", "json" or "free"`,
  );
}

/** Perplexity of a mean per-token cross-entropy loss (natural log), i.e. exp(loss). */
export function perplexity(meanLoss: number): number {
  if (!Number.isFinite(meanLoss) || meanLoss < 0) {
    throw new TunebookError(
      `perplexity: mean loss must be a finite number >= 0, got ${meanLoss}; ` +
        `a NaN or infinite loss means training diverged, so lower the learning rate`,
    );
  }
  return Math.exp(meanLoss);
}

function ratio(count: number, total: number): number {
  return total === 0 ? 0 : count / total;
}

function scoreFree(items: ScoredItem[]): EvalScores {
  const correct = items.filter(
    (it) => normalizeAnswer(it.prediction) === normalizeAnswer(it.reference),
  ).length;
  return {
    n: items.length,
    accuracy: correct / items.length,
    format_consistency: null,
    hallucination_rate: null,
    per_class: {},
    macro_f1: null,
  };
}

// ---- label tasks ----

/** A regex accepting strings made only of the character kinds the labels use. */
function labelShape(labels: Iterable<string>): RegExp {
  const parts = new Set<string>();
  for (const label of labels) {
    for (const ch of label) {
      if (/\p{Ll}/u.test(ch)) parts.add("\\p{Ll}");
      else if (/\p{Lu}/u.test(ch)) parts.add("\\p{Lu}");
      else if (/\p{Nd}/u.test(ch)) parts.add("\\p{Nd}");
      else if (/\p{L}/u.test(ch)) parts.add("\\p{Lo}\\p{Lm}\\p{Lt}");
      else parts.add(ch.replace(/[\\\]\[^-]/g, "\\$&"));
    }
  }
  return new RegExp(`^[${[...parts].join("")}]+$`, "u");
}

function scoreLabels(items: ScoredItem[], rawLabels: string[]): EvalScores {
  const labels = new Set(rawLabels.map(normalizeAnswer));
  if (labels.size === 0 || labels.has("")) {
    throw new TunebookError(
      "scorePredictions: spec.labels must list at least one non-empty label",
    );
  }
  const shape = labelShape(labels);

  // Tally references, in-set predictions and hits per class.
  const support = new Map<string, number>();
  const predicted = new Map<string, number>();
  const hits = new Map<string, number>();
  let correct = 0;
  let wellFormed = 0;
  let outside = 0;
  items.forEach((item, i) => {
    const ref = normalizeAnswer(item.reference);
    const pred = normalizeAnswer(item.prediction);
    if (!labels.has(ref)) {
      throw new TunebookError(
        `scorePredictions: item ${i}: reference "${ref}" is not in the label set; ` +
          `add it to spec.labels or drop the item`,
      );
    }
    support.set(ref, (support.get(ref) ?? 0) + 1);
    if (shape.test(pred)) wellFormed++;
    if (!labels.has(pred)) outside++;
    else predicted.set(pred, (predicted.get(pred) ?? 0) + 1);
    if (pred === ref) {
      correct++;
      hits.set(ref, (hits.get(ref) ?? 0) + 1);
    }
  });

  // Per-class figures, in label-set order so the JSON is stable.
  const perClass: Record<string, ClassScores> = {};
  let f1Sum = 0;
  for (const label of labels) {
    const n = support.get(label) ?? 0;
    const p = predicted.get(label) ?? 0;
    if (n === 0 && p === 0) continue;
    const tp = hits.get(label) ?? 0;
    const precision = ratio(tp, p);
    const recall = ratio(tp, n);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[label] = { n, correct: tp, accuracy: recall, precision, recall, f1 };
    if (n > 0) f1Sum += f1;
  }

  return {
    n: items.length,
    accuracy: correct / items.length,
    format_consistency: wellFormed / items.length,
    hallucination_rate: outside / items.length,
    per_class: perClass,
    macro_f1: f1Sum / support.size,
  };
}

// ---- JSON tasks ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function tryParse(text: string): { ok: true; value: Json } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as Json };
  } catch {
    return { ok: false };
  }
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function jsonEqual(a: Json, b: Json): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** String and number leaves of a JSON value, as text. */
function leaves(value: Json, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (typeof value === "number") out.push(String(value));
  else if (Array.isArray(value)) value.forEach((v) => leaves(v, out));
  else if (isObject(value)) Object.values(value).forEach((v) => leaves(v, out));
  return out;
}

function folded(text: string): string {
  return normalizeAnswer(text).toLowerCase();
}

function scoreJson(items: ScoredItem[], requiredKeys: string[]): EvalScores {
  const withInput = items.filter((it) => typeof it.input === "string").length;
  if (withInput !== 0 && withInput !== items.length) {
    const i = items.findIndex((it) => typeof it.input !== "string");
    throw new TunebookError(
      `scorePredictions: item ${i} has no input while others do; hallucination checks ` +
        `need the input on every item (or on none)`,
    );
  }

  let correct = 0;
  let wellFormed = 0;
  let invented = 0;
  items.forEach((item, i) => {
    // Parse the raw text: collapsing whitespace would change string values.
    const ref = tryParse(item.reference);
    if (!ref.ok) {
      throw new TunebookError(
        `scorePredictions: item ${i}: reference is not valid JSON; fix the reference ` +
          `or score this task with kind "free"`,
      );
    }
    const pred = tryParse(item.prediction);
    if (!pred.ok) return;
    if (jsonEqual(pred.value, ref.value)) correct++;
    if (!isObject(pred.value)) return;
    const obj = pred.value;
    if (requiredKeys.every((k) => Object.hasOwn(obj, k))) wellFormed++;
    if (item.input !== undefined) {
      const source = folded(item.input);
      if (leaves(obj).some((leaf) => !source.includes(folded(leaf)))) invented++;
    }
  });

  return {
    n: items.length,
    accuracy: correct / items.length,
    format_consistency: wellFormed / items.length,
    hallucination_rate: withInput === 0 ? null : invented / items.length,
    per_class: {},
    macro_f1: null,
  };
}
