// Contamination between two data sets: records sharing a long word n-gram (13 by default, the
// usual choice since GPT-3), listed pair by pair.
import type { AuditRecord, RecordRef } from "./records.js";
import { words } from "./records.js";

export interface ContaminationOptions {
  /** n-gram length in words (default 13). */
  n?: number;
  /**
   * Records shorter than n words are compared whole: they count as contaminated when all their
   * words occur in order in the other set, if they have at least this many words (default 5;
   * Infinity leaves short records out).
   */
  minWords?: number;
}

export interface ContaminationPair {
  record: RecordRef;
  other: RecordRef;
  /** The first shared n-gram. */
  ngram: string;
}

export interface ContaminationResult {
  counts: { records: number; other: number; contaminated: number; pairs: number };
  /** Share of `records` that share an n-gram with `other`. */
  share: number;
  pairs: ContaminationPair[];
  n: number;
  summary: string;
}

/** Which records of `records` share an n-gram with some record of `other`. */
export function contamination(
  records: readonly AuditRecord[],
  other: readonly AuditRecord[],
  opts: ContaminationOptions = {},
): ContaminationResult {
  const n = opts.n ?? 13;
  const minWords = opts.minWords ?? 5;
  const textOf = (r: AuditRecord) => words(`${r.input} ${r.output}`);
  const mine = records.map(textOf);
  const theirs = other.map(textOf);

  // Gram lengths needed: n, and the lengths of the short records compared whole.
  const lengths = new Set<number>([n]);
  for (const w of mine) if (w.length < n && w.length >= minWords) lengths.add(w.length);
  const index = new Map<string, number>();
  theirs.forEach((w, j) => {
    for (const len of lengths) {
      for (let i = 0; i + len <= w.length; i++) {
        const g = w.slice(i, i + len).join(" ");
        if (!index.has(g)) index.set(g, j);
      }
    }
  });

  const pairs: ContaminationPair[] = [];
  const hit = new Set<number>();
  mine.forEach((w, i) => {
    const len = w.length >= n ? n : w.length >= minWords ? w.length : 0;
    if (len === 0) return;
    const found = new Map<number, string>();
    for (let k = 0; k + len <= w.length; k++) {
      const g = w.slice(k, k + len).join(" ");
      const j = index.get(g);
      if (j !== undefined && !found.has(j)) found.set(j, g);
    }
    for (const [j, g] of found) {
      hit.add(i);
      pairs.push({
        record: { file: records[i].file, line: records[i].line },
        other: { file: other[j].file, line: other[j].line },
        ngram: g,
      });
    }
  });
  const share = records.length ? hit.size / records.length : 0;
  const summary =
    hit.size === 0
      ? `No record of the ${records.length} shares a ${n}-word sequence with the other ` +
        `${other.length} records (shorter records compared whole from ${minWords} words).`
      : `${hit.size} of ${records.length} records (${(100 * share).toFixed(1)} %) share a ` +
        `${n}-word sequence (or, if shorter, their whole text) with the other data set. ` +
        "Scores on an evaluation set that overlaps the training set are inflated; remove the " +
        "overlapping records from one side.";
  return {
    counts: {
      records: records.length,
      other: other.length,
      contaminated: hit.size,
      pairs: pairs.length,
    },
    share,
    pairs,
    n,
    summary,
  };
}
