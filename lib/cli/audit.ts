// `tunebook audit`: data quality and PII of a data file; with --against, contamination with
// another; with --run, bias (CrowS-Pairs before/after, identity terms) and memorisation.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { contamination } from "../audits/contamination.js";
import { crowsPairs, type CrowsResult, loadCrowsPairs } from "../audits/crows.js";
import { identityTerms } from "../audits/identity.js";
import { auditPii } from "../audits/pii.js";
import { auditQuality } from "../audits/quality.js";
import { type AuditRecord, readAuditData, type RecordRef } from "../audits/records.js";
import { memorisation } from "../checks/memorisation.js";
import type { Example } from "../data/records.js";
import { TunebookError } from "../errors.js";

export interface AuditCommandOptions {
  data: string;
  against?: string;
  run?: string;
  json?: boolean;
  /** n-gram length for contamination (default 13). */
  ngram?: number;
  /** CrowS-Pairs CSV (default: data/audit/crows_pairs.csv of this repository). */
  crows?: string;
  /** Examples per side for memorisation (default 200). */
  limit?: number;
}

type Section = { counts: Record<string, unknown>; records: RecordRef[]; summary: string } & Record<
  string,
  unknown
>;

const REPO = (() => {
  const here = path.dirname(new URL(import.meta.url).pathname);
  return here.includes(`${path.sep}dist${path.sep}`)
    ? path.resolve(here, "../../..")
    : path.resolve(here, "../..");
})();

export async function auditCommand(opts: AuditCommandOptions): Promise<void> {
  const report = await runAudit(opts);
  if (opts.json) {
    process.stdout.write(JSON.stringify(report) + "\n");
    return;
  }
  for (const [name, section] of Object.entries(report)) {
    if (typeof section === "object" && section !== null && "summary" in section) {
      process.stdout.write(`${name}: ${(section as Section).summary}\n\n`);
    }
  }
}

/** The audit as one object: the JSON that `--json` prints. */
export async function runAudit(opts: AuditCommandOptions): Promise<Record<string, unknown>> {
  const data = nonEmpty(readAuditData(opts.data), opts.data);
  const against = opts.against ? nonEmpty(readAuditData(opts.against), opts.against) : undefined;
  const opened = opts.run ? await openForAudit(opts.run) : undefined;
  const tokenizer = opened?.tokenizer ?? (await baseTokenizer());
  const maxTokens = opened?.model.config.maxPositions ?? (tokenizer ? 128 : 512);

  const report: Record<string, unknown> = { data: opts.data };
  const q = auditQuality(data, { tokenizer, maxTokens, against: against?.records });
  report.quality = {
    ...q,
    records: [
      ...q.exactDuplicates.flatMap((g) => g.records.map((r) => ({ ...r, problem: "duplicate" }))),
      ...q.nearDuplicates.flatMap((g) =>
        g.records.map((r) => ({ ...r, problem: "near duplicate" })),
      ),
      ...q.contradictions.flatMap((c) =>
        c.answers.flatMap((a) => a.records.map((r) => ({ ...r, problem: "contradiction" }))),
      ),
      ...q.empty.map((r) => ({ ...r, problem: `empty ${r.field}` })),
      ...q.tooShort.map((r) => ({ ...r, problem: "too short" })),
      ...q.tooLong.map((r) => ({ ...r, problem: "too long" })),
      ...q.undecodable.map((r) => ({ ...r, problem: r.problem })),
      ...q.unparsable.map((r) => ({ ...r, problem: r.problem })),
      ...(q.overlap ?? []).map((o) => ({
        ...o.record,
        problem: `overlaps ${o.other.file}:${o.other.line}`,
      })),
    ],
  };
  const pii = auditPii(data.records);
  report.pii = { ...pii, records: pii.findings };
  if (against) {
    const c = contamination(data.records, against.records, { n: opts.ngram });
    report.contamination = { ...c, records: c.pairs };
  }
  if (opened) {
    report.memorisation = memorisationSection(opened, data.records, opts.limit ?? 200);
    report.bias = biasSection(
      opened,
      data.records,
      opts.crows ?? path.join(REPO, "data/audit/crows_pairs.csv"),
    );
  }
  return report;
}

type Opened = Awaited<ReturnType<typeof openForAudit>>;

async function openForAudit(dir: string) {
  const { initBackend } = await import("../engine/backend.js");
  const { openRun } = await import("../export/run-export.js");
  await initBackend();
  return openRun(dir);
}

/** The shipped base model's tokenizer, if it is there, so lengths are counted in tokens. */
async function baseTokenizer() {
  const dir = path.join(REPO, "models/tunebook-base");
  if (!existsSync(path.join(dir, "tokenizer.json"))) return undefined;
  const { Tokenizer } = await import("../tokens/tokenizer.js");
  return Tokenizer.load(dir);
}

function toExamples(records: readonly AuditRecord[]): Example[] {
  return records
    .filter((r) => r.input.trim() !== "" && r.output.trim() !== "")
    .map((r) => ({
      messages: [
        { role: "user", content: r.input },
        { role: "assistant", content: r.output },
      ],
      source: { file: r.file, line: r.line },
    }));
}

function memorisationSection(
  opened: Opened,
  records: readonly AuditRecord[],
  limit: number,
): Section {
  const file = (opened.runJson.data_files as { train?: string | null } | undefined)?.train;
  if (typeof file !== "string" || !existsSync(file)) {
    return {
      counts: {},
      records: [],
      summary:
        "run.json names no training file that exists here, " +
        "so training answers cannot be compared with validation answers.",
    };
  }
  const train = toExamples(readAuditData(file).records);
  const validation = toExamples(records);
  return { ...memorisation(opened.model, opened.tokenizer, { train, validation }, { limit }) };
}

function biasSection(opened: Opened, records: readonly AuditRecord[], crowsFile: string): Section {
  if (!existsSync(crowsFile)) {
    throw new TunebookError(`${crowsFile}: CrowS-Pairs file not found; pass --crows <file>`);
  }
  const pairs = loadCrowsPairs(crowsFile);
  const opts = { file: crowsFile, maxLength: opened.model.config.maxPositions, batchSize: 64 };
  const after = crowsPairs(opened.model, opened.tokenizer, pairs, opts);
  // The base model is the run's model without its adapter: the "before" of fine-tuning.
  let before: CrowsResult | null = null;
  if (opened.model.lora.size > 0) {
    opened.model.removeLora();
    before = crowsPairs(opened.model, opened.tokenizer, pairs, opts);
  }
  const identity = identityTerms(records);
  const brief = (r: CrowsResult) => ({
    overall: r.overall,
    byBiasType: r.byBiasType,
    charts: r.charts,
  });
  const skewed = [...after.pairs]
    .sort((a, b) => b.moreLogLik - b.lessLogLik - (a.moreLogLik - a.lessLogLik))
    .slice(0, 50)
    .map((p) => ({
      file: p.file,
      line: p.line,
      biasType: p.biasType,
      margin: p.moreLogLik - p.lessLogLik,
    }));
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return {
    counts: {
      pairs: after.counts.pairs,
      preferStereotypeAfter: after.counts.preferStereotype,
      preferStereotypeBefore: before?.counts.preferStereotype ?? null,
      identityMentions: identity.counts.reduce((s, c) => s + c.input + c.output, 0),
      skewedCategories: identity.skewed.length,
    },
    crowsPairs: { after: brief(after), before: before === null ? null : brief(before) },
    identity,
    records: [...skewed, ...identity.records],
    summary:
      after.summary +
      (before ? ` Before fine-tuning (base model): ${pct(before.overall.share)}.` : "") +
      ` ${identity.summary}`,
  };
}

/** An audit of nothing would report "no problems": an empty file is a mistake to name. */
function nonEmpty<T extends { records: unknown[]; undecodable: unknown[]; unparsable: unknown[] }>(
  data: T,
  file: string,
): T {
  if (data.records.length + data.undecodable.length + data.unparsable.length === 0) {
    throw new TunebookError(`${file}: no records to audit`);
  }
  return data;
}
