// Data-quality audit: planted duplicates, near duplicates, contradictions, empty and long
// records, undecodable lines, imbalance and overlap are found; clean data is not flagged.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { fixExamples } from "../lib/audits/fix.js";
import { clusters, jaccard, nearPairs, shingles } from "../lib/audits/minhash.js";
import { auditQuality } from "../lib/audits/quality.js";
import { type AuditRecord, readAuditData } from "../lib/audits/records.js";
import { Dataset } from "../lib/data/dataset.js";
import type { Example } from "../lib/data/records.js";

const rec = (line: number, input: string, output: string): AuditRecord => ({
  file: "t.jsonl",
  line,
  input,
  output,
});

const CLEAN: AuditRecord[] = [
  rec(1, "what is the weather in paris tomorrow", "weather"),
  rec(2, "book a table for four at eight tonight", "restaurant"),
  rec(3, "play the latest album by the beatles", "music"),
  rec(4, "how much money is in my savings account", "balance"),
  rec(5, "set an alarm for six thirty in the morning", "alarm"),
  rec(6, "translate good morning into german please", "translate"),
];

describe("auditQuality", () => {
  it("does not flag clean data", () => {
    const q = auditQuality(CLEAN);

    const { records, ...problems } = q.counts;
    expect(records).toBe(6);
    expect(Object.values(problems).every((n) => n === 0)).toBe(true);
    expect(q.summary).toContain("No duplicates");
  });

  it.each([
    [
      "exact duplicate",
      [rec(7, "What is the weather in Paris tomorrow?", "weather")],
      "exactDuplicates",
      1,
    ],
    [
      "near duplicate",
      [rec(7, "what is the weather in paris tomorow", "weather")],
      "nearDuplicates",
      1,
    ],
    [
      "contradiction",
      [rec(7, "what is the weather in paris tomorrow", "travel")],
      "contradictions",
      1,
    ],
    [
      "near contradiction",
      [rec(7, "so what is the weather in paris tomorrow", "travel")],
      "contradictions",
      1,
    ],
    ["empty answer", [rec(7, "hello there my friend", " ")], "empty", 1],
    ["too short", [rec(7, "hi", "")], "tooShort", 1],
    ["too long", [rec(7, "word ".repeat(600), "long")], "tooLong", 1],
  ])("finds a planted %s", (_name, planted, key, expected) => {
    const q = auditQuality([...CLEAN, ...planted]);

    expect(q.counts[key as keyof typeof q.counts]).toBe(expected);
  });

  it("names the records of a duplicate group by file and line", () => {
    const q = auditQuality([
      ...CLEAN,
      rec(9, "book a table for four at eight tonight!", "restaurant"),
    ]);

    expect(q.exactDuplicates[0].records).toEqual([
      { file: "t.jsonl", line: 2 },
      { file: "t.jsonl", line: 9 },
    ]);
  });

  it("flags label imbalance and overlap with another split", () => {
    const many = Array.from({ length: 60 }, (_, i) =>
      rec(i + 1, `please check balance number ${i} now`, "balance"),
    );
    const few = Array.from({ length: 3 }, (_, i) =>
      rec(100 + i, `weather report for city ${i}`, "weather"),
    );
    const other = [rec(1, "please check balance number 5 now", "balance")];

    const q = auditQuality([...many, ...few], {
      against: other.map((r) => ({ ...r, file: "v.jsonl" })),
    });

    expect(q.labels.applies).toBe(true);
    expect(q.labels.ratio).toBe(20);
    expect(q.labels.flagged).toBe(true);
    expect(q.overlap!.filter((o) => o.kind === "exact").map((o) => o.record.line)).toEqual([6]);
  });

  it("counts length in tokens when given a tokenizer", () => {
    const tokenizer = { encode: (t: string) => [...t] };

    const q = auditQuality([rec(1, "abcd", "ef")], { tokenizer, maxTokens: 5 });

    expect(q.unit).toBe("tokens");
    expect(q.tooLong).toEqual([{ file: "t.jsonl", line: 1, tokens: 6 }]);
  });
});

describe("readAuditData", () => {
  it("reports undecodable and unparsable lines and keeps reading", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tb-audit-"));
    const file = path.join(dir, "d.jsonl");
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('{"input":"one","output":"a"}\n'),
        Buffer.from('{"input":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('","output":"b"}\n'),
        Buffer.from("not json\n"),
        Buffer.from('{"input":"three","output":""}\n'),
      ]),
    );

    const data = readAuditData(file);
    const q = auditQuality(data);

    expect(data.records.map((r) => r.line)).toEqual([1, 4]);
    expect(data.undecodable).toEqual([
      { file, line: 2, problem: "invalid UTF-8 byte 0xE9 at column 14" },
    ]);
    expect(data.unparsable.map((u) => u.line)).toEqual([3]);
    expect(q.counts.empty).toBe(1);
  });
});

describe("MinHash", () => {
  it("finds pairs above the threshold and not below", () => {
    const texts = [
      "the quick brown fox jumps over the lazy dog",
      "the quick brown fox jumped over the lazy dog",
      "an entirely different sentence about cooking pasta",
    ];

    const pairs = nearPairs(texts, { threshold: 0.6 });

    expect(pairs.map((p) => [p.a, p.b])).toEqual([[0, 1]]);
    expect(pairs[0].similarity).toBeCloseTo(jaccard(shingles(texts[0]), shingles(texts[1])), 10);
    expect(clusters(3, pairs)).toEqual([[0, 1]]);
  });
});

describe("fix", () => {
  const ex = (line: number, input: string, output: string): Example => ({
    messages: [
      { role: "user", content: input },
      { role: "assistant", content: output },
    ],
    source: { file: "t.jsonl", line },
  });

  it("drops duplicates and contradictions and redacts PII, listing each change", () => {
    const data = new Dataset([
      ex(1, "what is the weather in paris", "weather"),
      ex(2, "what is the weather in paris", "weather"),
      ex(3, "book a table for four tonight", "restaurant"),
      ex(4, "book a table for four tonight", "restaurant"),
      ex(5, "book a table for four tonight", "travel"),
      ex(6, "email me at jane.doe@example.com about the trip", "travel"),
    ]);

    const { dataset, report } = data.fix({
      dropDuplicates: true,
      contradictions: "minority",
      redactPii: true,
    });

    expect(dataset.examples.map((e) => e.source.line)).toEqual([1, 3, 6]);
    expect(report.removed).toEqual([
      { file: "t.jsonl", line: 2, reason: "duplicate" },
      { file: "t.jsonl", line: 4, reason: "duplicate" },
      { file: "t.jsonl", line: 5, reason: "contradiction" },
    ]);
    expect(dataset.examples[2].messages[0].content).toBe("email me at [EMAIL] about the trip");
    expect(report.redacted).toEqual([{ file: "t.jsonl", line: 6 }]);
  });

  it("drops records overlapping another split", () => {
    const { examples } = fixExamples(
      [ex(1, "set a timer for ten minutes", "timer"), ex(2, "play jazz", "music")],
      { dropOverlapWith: [ex(1, "Set a timer for ten minutes!", "timer")] },
    );

    expect(examples.map((e) => e.source.line)).toEqual([2]);
  });
});
