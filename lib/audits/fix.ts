// Remedies for the data-quality findings: drop duplicates, contradictions, empty, too short or
// too long records and overlap with another split, and redact personal data; every removal is
// listed with its file, line and reason.
import type { Example } from "../data/records.js";
import { redactPii } from "./pii.js";
import { auditQuality, type QualityOptions } from "./quality.js";
import { fromExamples, type RecordRef } from "./records.js";

export interface FixOptions {
  /** Keep the first of each group of exact duplicates. */
  dropDuplicates?: boolean;
  /** Keep the first of each group of near duplicates. */
  dropNearDuplicates?: boolean;
  /** "all": drop every record of a contradiction; "minority": keep the most frequent answer. */
  contradictions?: "all" | "minority";
  dropEmpty?: boolean;
  dropTooShort?: boolean;
  dropTooLong?: boolean;
  /** Drop records whose prompt also appears (exactly or nearly) in this other split. */
  dropOverlapWith?: readonly Example[];
  /** Replace personal data and secrets with placeholders such as [EMAIL]. */
  redactPii?: boolean;
}

export interface FixReport {
  remedies: Omit<FixOptions, "dropOverlapWith"> & { dropOverlapWith?: number };
  before: number;
  after: number;
  removed: (RecordRef & { reason: string })[];
  /** Records whose text was redacted. */
  redacted: RecordRef[];
}

/** Applies the remedies; the examples are not changed, a new list is returned. */
export function fixExamples(
  examples: readonly Example[],
  remedies: FixOptions,
  opts: Omit<QualityOptions, "against"> = {},
): { examples: Example[]; report: FixReport } {
  const quality = auditQuality(fromExamples(examples), {
    ...opts,
    against: remedies.dropOverlapWith ? fromExamples(remedies.dropOverlapWith) : undefined,
  });
  const reasons = new Map<string, string>();
  const drop = (r: RecordRef, reason: string) => {
    const k = `${r.file}:${r.line}`;
    if (!reasons.has(k)) reasons.set(k, reason);
  };

  if (remedies.dropEmpty) quality.empty.forEach((r) => drop(r, `empty ${r.field}`));
  if (remedies.dropTooShort) quality.tooShort.forEach((r) => drop(r, `too short (${r.tokens})`));
  if (remedies.dropTooLong) quality.tooLong.forEach((r) => drop(r, `too long (${r.tokens})`));
  if (remedies.dropDuplicates) {
    for (const g of quality.exactDuplicates)
      g.records.slice(1).forEach((r) => drop(r, "duplicate"));
  }
  if (remedies.dropNearDuplicates) {
    for (const g of quality.nearDuplicates)
      g.records.slice(1).forEach((r) => drop(r, "near duplicate"));
  }
  if (remedies.contradictions !== undefined) {
    for (const c of quality.contradictions) {
      const answers = [...c.answers].sort((a, b) => b.records.length - a.records.length);
      const tie = answers.length > 1 && answers[0].records.length === answers[1].records.length;
      const keepFirst = remedies.contradictions === "minority" && !tie;
      answers
        .slice(keepFirst ? 1 : 0)
        .forEach((a) => a.records.forEach((r) => drop(r, "contradiction")));
    }
  }
  for (const o of quality.overlap ?? []) drop(o.record, `overlaps ${o.other.file}:${o.other.line}`);

  const kept: Example[] = [];
  const redacted: RecordRef[] = [];
  for (const e of examples) {
    if (reasons.has(`${e.source.file}:${e.source.line}`)) continue;
    if (!remedies.redactPii) {
      kept.push(e);
      continue;
    }
    const messages = e.messages.map((m) => ({ ...m, content: redactPii(m.content) }));
    if (messages.some((m, i) => m.content !== e.messages[i].content))
      redacted.push({ ...e.source });
    kept.push({ ...e, messages });
  }
  const { dropOverlapWith, ...rest } = remedies;
  return {
    examples: kept,
    report: {
      remedies: {
        ...rest,
        ...(dropOverlapWith ? { dropOverlapWith: dropOverlapWith.length } : {}),
      },
      before: examples.length,
      after: kept.length,
      removed: [...reasons].map(([k, reason]) => {
        const at = k.lastIndexOf(":");
        return { file: k.slice(0, at), line: Number(k.slice(at + 1)), reason };
      }),
      redacted,
    },
  };
}
