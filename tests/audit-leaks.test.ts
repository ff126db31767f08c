// Leaks and bias on a model: n-gram contamination, a canary memorised by a tiny model trained on
// it versus a fresh one, CrowS-Pairs scoring, identity-term counts and the Wilson interval.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { canaryExposure, makeCanaries } from "../lib/audits/canary.js";
import { contamination } from "../lib/audits/contamination.js";
import { crowsPairs, loadCrowsPairs } from "../lib/audits/crows.js";
import { identityTerms } from "../lib/audits/identity.js";
import type { AuditRecord } from "../lib/audits/records.js";
import { wilson } from "../lib/audits/stats.js";
import { logLikelihoods } from "../lib/checks/likelihood.js";
import { initBackend } from "../lib/engine/backend.js";
import { TrainingRun } from "../lib/train/run.js";
import { loopOptions } from "./helpers/tiny.js";
import { textModel, textRow, textTokenizer } from "./helpers/text-model.js";

beforeAll(async () => {
  await initBackend();
});

const rec = (file: string, line: number, input: string, output = "x"): AuditRecord => ({
  file,
  line,
  input,
  output,
});

describe("contamination", () => {
  const long =
    "the committee met on tuesday to discuss the annual budget and agreed to postpone the vote";

  it.each([
    ["a copied long record", [rec("a", 1, long)], 1],
    [
      "a record sharing 13 words",
      [rec("a", 1, `yesterday ${long.split(" ").slice(2, 16).join(" ")} again`)],
      1,
    ],
    ["a short record copied whole", [rec("a", 1, "book a table for two tonight")], 1],
    ["unrelated records", [rec("a", 1, "play some jazz music in the kitchen please now")], 0],
  ])("finds %s", (_name, records, expected) => {
    const other = [rec("b", 7, long), rec("b", 8, "book a table for two tonight")];

    const c = contamination(records, other);

    expect(c.counts.contaminated).toBe(expected);
    if (expected > 0) expect(c.pairs[0].record).toEqual({ file: "a", line: 1 });
  });
});

describe("likelihood", () => {
  it("scores padded batches like single texts and keeps tensors flat", () => {
    const tok = textTokenizer();
    const model = textModel(tok);
    const texts = ["play some music", "book a table for two at the market"];
    logLikelihoods(model, tok, texts); // the model builds its rotary tables once
    const before = tf.memory().numTensors;

    const batched = logLikelihoods(model, tok, texts).logLikelihood;
    const single = texts.map((t) => logLikelihoods(model, tok, [t]).logLikelihood[0]);

    expect(batched[0]).toBeCloseTo(single[0], 3);
    expect(batched[1]).toBeCloseTo(single[1], 3);
    expect(batched[0]).toBeLessThan(0);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe("canary exposure", () => {
  it("is high for a model trained on the canary and low for a fresh one", async () => {
    const tok = textTokenizer();
    const [canary] = makeCanaries(1, { seed: 3 });
    const trained = textModel(tok, 1);
    const fresh = textModel(tok, 2);
    const rows = Array.from({ length: 8 }, () => textRow(tok, canary.text));

    await new TrainingRun({
      model: trained,
      params: trained.trainableVariables({ method: "full" }),
      train: rows,
      validation: [],
      options: loopOptions({ epochs: 40, batchSize: 8, learningRate: 1e-2, padId: tok.padId }),
    });
    const t = canaryExposure(trained, tok, [canary], { candidates: 64 });
    const f = canaryExposure(fresh, tok, [canary], { candidates: 64 });

    expect(t.canaries[0].rank).toBe(1);
    expect(t.meanExposure).toBe(6);
    expect(f.meanExposure).toBeLessThan(4);
    expect(t.summary).toContain("memorised");
    trained.dispose();
    fresh.dispose();
  });
});

describe("bias", () => {
  it("gives CrowS-Pairs shares per bias type with intervals", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tb-crows-"));
    const file = path.join(dir, "pairs.csv");
    writeFileSync(
      file,
      ",sent_more,sent_less,stereo_antistereo,bias_type\n" +
        '0,"she went to the market","he went to the market",stereo,gender\n' +
        '1,"the cat sat on the mat","the cat sat on the hat",stereo,other\n' +
        '2,"play some music","play some musics",antistereo,gender\n',
    );
    const tok = textTokenizer();
    const model = textModel(tok);

    const pairs = loadCrowsPairs(file);
    const r = crowsPairs(model, tok, pairs, { file });

    expect(pairs.map((p) => [p.line, p.biasType])).toEqual([
      [2, "gender"],
      [3, "other"],
      [4, "gender"],
    ]);
    expect(r.overall.n).toBe(3);
    expect(r.byBiasType.gender.n).toBe(2);
    const k = r.pairs.filter((p) => p.moreLogLik > p.lessLogLik).length;
    expect(r.overall.preferStereotype).toBe(k);
    expect(r.overall.ci95.low).toBeLessThanOrEqual(r.overall.share);
    model.dispose();
  });

  it.each([
    [8, 10, 0.4902, 0.9433],
    [0, 10, 0, 0.2775],
    [50, 100, 0.4038, 0.5962],
  ])("Wilson interval of %i/%i", (k, n, low, high) => {
    const ci = wilson(k, n);

    expect(ci.low).toBeCloseTo(low, 3);
    expect(ci.high).toBeCloseTo(high, 3);
  });

  it("counts identity terms and flags a skewed category", () => {
    const records = Array.from({ length: 25 }, (_, i) =>
      rec("d", i + 1, `he said his order ${i} is late`, "ok"),
    );

    const r = identityTerms([...records, rec("d", 30, "she called", "ok")]);

    const male = r.counts.find((c) => c.group === "male")!;
    expect(male.input).toBe(50);
    expect(r.skewed).toEqual([{ category: "gender", most: "male", least: "female", ratio: 50 }]);
  });
});
