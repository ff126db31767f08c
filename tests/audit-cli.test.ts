// `tunebook audit`: the JSON contract (quality, pii, contamination with --against, bias and
// memorisation with --run), through the command line and through runAudit on a tiny run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAudit } from "../lib/cli/audit.js";
import { Session } from "../lib/session.js";
import { textModelDir } from "./helpers/text-model.js";

const dir = mkdtempSync(path.join(tmpdir(), "tb-audit-cli-"));
const train = path.join(dir, "train.jsonl");
const validation = path.join(dir, "validation.jsonl");
const lines = (rows: [string, string][]) =>
  rows.map(([input, output]) => JSON.stringify({ input, output })).join("\n") + "\n";

beforeAll(() => {
  writeFileSync(
    train,
    lines([
      ["set a timer for ten minutes", "timer"],
      ["set a timer for ten minutes", "timer"],
      ["play some jazz in the kitchen", "music"],
      ["email the report to jane.doe@example.com", "email"],
      ["what is the weather in paris tomorrow", "weather"],
      ["book a table for two at eight", "restaurant"],
    ]),
  );
  writeFileSync(
    validation,
    lines([
      ["what is the weather in paris tomorrow", "weather"],
      ["turn off the lights", "lights"],
    ]),
  );
});

type Section = {
  counts: Record<string, number>;
  records: { file: string; line: number }[];
  summary: string;
};

describe("tunebook audit", () => {
  it("prints one JSON object with quality, pii and contamination", () => {
    const out = execFileSync(
      "npx",
      ["tsx", "lib/cli/main.ts", "audit", "--data", train, "--against", validation, "--json"],
      { encoding: "utf8" },
    );

    const report = JSON.parse(out) as Record<string, Section>;

    expect(Object.keys(report)).toEqual(["data", "quality", "pii", "contamination"]);
    expect(report.quality.counts.exactDuplicates).toBe(1);
    expect(report.quality.records).toContainEqual({ file: train, line: 2, problem: "duplicate" });
    expect(report.pii.counts.EMAIL).toBe(1);
    expect(report.pii.records[0]).toMatchObject({ file: train, line: 4, type: "EMAIL" });
    expect(report.contamination.records[0]).toMatchObject({
      record: { file: train, line: 5 },
      other: { file: validation, line: 1 },
    });
    for (const s of ["quality", "pii", "contamination"])
      expect(report[s].summary.length).toBeGreaterThan(40);
  }, 30_000);

  it("refuses an empty data file in one line", () => {
    const empty = path.join(path.dirname(train), "empty.jsonl");
    writeFileSync(empty, "\n\n");
    let stderr = "";
    try {
      execFileSync("npx", ["tsx", "lib/cli/main.ts", "audit", "--data", empty, "--json"], {
        encoding: "utf8",
        stdio: "pipe",
      });
    } catch (err) {
      stderr = (err as { stderr: string }).stderr;
    }

    expect(stderr.trim()).toBe(`tunebook: ${empty}: no records to audit`);
  }, 30_000);

  it("adds bias and memorisation for a run folder", async () => {
    const base = await textModelDir(0);
    const crows = path.join(dir, "crows.csv");
    writeFileSync(
      crows,
      ",sent_more,sent_less,stereo_antistereo,bias_type\n" +
        '0,"she went to the market","he went to the market",stereo,gender\n' +
        '1,"the old man sat on the mat","the young man sat on the mat",stereo,age\n',
    );
    const session = await Session.open({ baseModel: base });
    session.loadData({ train, validation });
    const fixed = session.fixData({ dropDuplicates: true, dropOverlapWith: "validation" });
    await session.train({ maxSteps: 2, batchSize: 4, lora: { r: 2, alpha: 4 } });
    const runDir = path.join(dir, "run");
    await session.export(runDir);

    const report = (await runAudit({ data: validation, run: runDir, crows, limit: 4 })) as Record<
      string,
      Section
    >;

    expect(Object.keys(report)).toEqual(["data", "quality", "pii", "memorisation", "bias"]);
    expect(report.bias.counts.pairs).toBe(2);
    expect(report.bias.counts.preferStereotypeBefore).not.toBeNull();
    expect(report.bias.records.some((r) => r.file === crows)).toBe(true);
    expect(report.memorisation.counts).toMatchObject({ train: 4, validation: 2 });
    expect(report.bias.summary).toContain("Before fine-tuning");
    expect(fixed.removed.map((r) => [r.line, r.reason])).toEqual([
      [2, "duplicate"],
      [5, `overlaps ${validation}:1`],
    ]);
    expect(session.history.find((h) => h.action === "fix data")?.details).toMatchObject({
      before: 6,
      after: 4,
    });
  }, 60_000);
});
