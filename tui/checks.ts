// The checks and audits stages: what the session's overfitting monitor saw during training, and
// the training data's quality and personal data (with its overlap with the validation set).
import { auditPii } from "../lib/audits/pii.js";
import { auditQuality } from "../lib/audits/quality.js";
import { fromExamples } from "../lib/audits/records.js";
import type { OverfitMonitor } from "../lib/checks/overfit.js";
import type { Session } from "../lib/session.js";
import type { LogEntry } from "./describe.js";

/** A stage's short result for the stages panel and its sentences for the event log. */
export interface StageReport {
  detail: string;
  lines: Pick<LogEntry, "kind" | "text">[];
}

export function runChecks(overfit: OverfitMonitor | undefined): StageReport {
  if (overfit === undefined) return { detail: "no run watched", lines: [] };
  const r = overfit.result();
  const warnings = r.counts.warnings;
  return {
    detail: warnings === 0 ? "no overfitting" : `overfitting: ${warnings} warned`,
    lines: [{ kind: warnings === 0 ? "info" : "warning", text: `checks | ${r.summary}` }],
  };
}

export function runAudits(data: Session["data"]): StageReport {
  if (data === undefined) return { detail: "no data", lines: [] };
  const records = fromExamples(data.train.examples);
  const quality = auditQuality(records, { against: fromExamples(data.validation.examples) });
  const pii = auditPii(records);
  const withPii = pii.counts.recordsWithPii;
  const c = quality.counts;
  const duplicates = c.exactDuplicates + c.nearDuplicates;
  const clean = duplicates + c.contradictions + c.overlap === 0;
  const found = [
    [duplicates, "dup"],
    [c.contradictions, "contradicting"],
    [c.overlap, "in val"],
    [withPii, "PII"],
  ].filter(([n]) => n !== 0);
  return {
    detail: found.length === 0 ? "clean" : found.map(([n, what]) => `${n} ${what}`).join(" · "),
    lines: [
      { kind: clean ? "info" : "warning", text: `audits | ${quality.summary}` },
      { kind: withPii === 0 ? "info" : "warning", text: `audits | ${pii.summary}` },
    ],
  };
}
