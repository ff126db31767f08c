// Finds personal data and secrets in text and data sets, redacts them to typed placeholders
// such as [EMAIL], and scores the detectors against a labelled file.
import { DETECTORS, PII_TYPES, type PiiType, PRIORITY } from "./pii-detectors.js";
import type { AuditRecord, RecordRef } from "./records.js";

export type { PiiType } from "./pii-detectors.js";
export { PII_TYPES } from "./pii-detectors.js";

export interface PiiSpan {
  type: PiiType;
  start: number;
  end: number;
  value: string;
}

/** Every finding in `text`, left to right, overlaps resolved in favour of the specific type. */
export function findPii(text: string, types: readonly PiiType[] = PII_TYPES): PiiSpan[] {
  const found: PiiSpan[] = [];
  for (const d of DETECTORS) {
    if (!types.includes(d.type)) continue;
    d.pattern.lastIndex = 0;
    for (const m of text.matchAll(d.pattern)) {
      const value = m[d.group ?? 0];
      if (value === undefined || value === "") continue;
      const start = (m.index ?? 0) + (d.group ? m[0].lastIndexOf(value) : 0);
      if (d.accept && !d.accept(value, text, start)) continue;
      found.push({ type: d.type, start, end: start + value.length, value });
    }
  }
  found.sort((a, b) => PRIORITY.indexOf(a.type) - PRIORITY.indexOf(b.type) || a.start - b.start);
  const kept: PiiSpan[] = [];
  for (const s of found) {
    if (!kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** The text with each finding replaced by its type in brackets, e.g. "[EMAIL]". */
export function redactPii(text: string, types?: readonly PiiType[]): string {
  let out = "";
  let at = 0;
  for (const s of findPii(text, types)) {
    out += text.slice(at, s.start) + `[${s.type}]`;
    at = s.end;
  }
  return out + text.slice(at);
}

export interface PiiFinding extends RecordRef {
  field: "input" | "output";
  type: PiiType;
  /** The value masked (first and last characters kept), so the report leaks nothing. */
  masked: string;
  /** The record's field redacted, for a look at the context. */
  redacted: string;
}

export interface PiiResult {
  counts: { records: number; recordsWithPii: number; findings: number } & Record<PiiType, number>;
  findings: PiiFinding[];
  charts: { byType: { x: string[]; y: number[] } };
  summary: string;
}

/** Scans prompts and answers of all records. */
export function auditPii(records: readonly AuditRecord[], types?: readonly PiiType[]): PiiResult {
  const findings: PiiFinding[] = [];
  const withPii = new Set<AuditRecord>();
  for (const r of records) {
    for (const field of ["input", "output"] as const) {
      const spans = findPii(r[field], types);
      if (spans.length === 0) continue;
      withPii.add(r);
      const redacted = redactPii(r[field], types);
      for (const s of spans) {
        findings.push({
          file: r.file,
          line: r.line,
          field,
          type: s.type,
          masked: mask(s.value),
          redacted: redacted.length > 200 ? `${redacted.slice(0, 200)}…` : redacted,
        });
      }
    }
  }
  const byType = Object.fromEntries(PII_TYPES.map((t) => [t, 0])) as Record<PiiType, number>;
  for (const f of findings) byType[f.type]++;
  const counts = {
    records: records.length,
    recordsWithPii: withPii.size,
    findings: findings.length,
    ...byType,
  };
  const present = PII_TYPES.filter((t) => byType[t] > 0);
  const summary =
    findings.length === 0
      ? `Scanned ${records.length} records for e-mail addresses, phone numbers, card numbers, ` +
        "IBANs, national ID numbers, IP addresses and credentials; none were found."
      : `Scanned ${records.length} records: ${withPii.size} contain personal data or secrets ` +
        `(${present.map((t) => `${byType[t]} ${t}`).join(", ")}). A model can learn and repeat ` +
        "them; redact them (dataset.fix({ redactPii: true }) replaces each with a placeholder " +
        "such as [EMAIL]) or drop those records, and rotate any real credential.";
  return {
    counts,
    findings,
    charts: { byType: { x: [...PII_TYPES], y: PII_TYPES.map((t) => byType[t]) } },
    summary,
  };
}

function mask(value: string): string {
  const v = value.replace(/\s+/g, " ");
  if (v.length <= 4) return "*".repeat(v.length);
  const keep = Math.min(3, Math.floor(v.length / 6));
  return (
    v.slice(0, keep) + "*".repeat(Math.min(20, v.length - 2 * keep)) + v.slice(v.length - keep)
  );
}

/** One line of a labelled file: the text and the values that are personal data or secrets. */
export interface LabelledText {
  text: string;
  pii: { type: PiiType; value: string }[];
}

export interface PiiScores {
  perType: Record<
    string,
    { tp: number; fp: number; fn: number; precision: number; recall: number }
  >;
  overall: { tp: number; fp: number; fn: number; precision: number; recall: number };
  /** Wrong findings and misses, for tuning. */
  errors: { text: string; kind: "fp" | "fn"; type: PiiType; value: string }[];
}

/**
 * Precision and recall per type. A finding matches a labelled value of the same type when one
 * contains the other (so a phone found without its "+" still counts).
 */
export function scorePii(lines: readonly LabelledText[]): PiiScores {
  const tally = new Map<string, { tp: number; fp: number; fn: number }>();
  const bump = (t: string, k: "tp" | "fp" | "fn") => {
    const c = tally.get(t) ?? { tp: 0, fp: 0, fn: 0 };
    c[k]++;
    tally.set(t, c);
  };
  const errors: PiiScores["errors"] = [];
  for (const { text, pii } of lines) {
    const found = findPii(text);
    const used = new Set<number>();
    for (const gold of pii) {
      const i = found.findIndex(
        (f, j) =>
          !used.has(j) &&
          f.type === gold.type &&
          (f.value.includes(gold.value) || gold.value.includes(f.value)),
      );
      if (i >= 0) {
        used.add(i);
        bump(gold.type, "tp");
      } else {
        bump(gold.type, "fn");
        errors.push({ text, kind: "fn", type: gold.type, value: gold.value });
      }
    }
    found.forEach((f, j) => {
      if (used.has(j)) return;
      bump(f.type, "fp");
      errors.push({ text, kind: "fp", type: f.type, value: f.value });
    });
  }
  const score = (c: { tp: number; fp: number; fn: number }) => ({
    ...c,
    precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
    recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
  });
  const all = { tp: 0, fp: 0, fn: 0 };
  const perType: PiiScores["perType"] = {};
  for (const t of PII_TYPES) {
    const c = tally.get(t) ?? { tp: 0, fp: 0, fn: 0 };
    perType[t] = score(c);
    all.tp += c.tp;
    all.fp += c.fp;
    all.fn += c.fn;
  }
  return { perType, overall: score(all), errors };
}
