// Fine-tuning config files: paths resolve against the file, mistakes name the field.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DEMO_CONFIG, readConfig } from "../lib/cli/config.js";

const dir = mkdtempSync(path.join(tmpdir(), "tb-config-"));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("readConfig", () => {
  it("reads the shipped demo with paths inside the repository", () => {
    const c = readConfig(DEMO_CONFIG);

    expect(c.data.train).toBe(path.resolve(path.dirname(DEMO_CONFIG), "../data/clinc150/train.jsonl"));
    expect(c.out).toBe(path.resolve(path.dirname(DEMO_CONFIG), "../runs/demo"));
    expect(c.train.method).toBe("lora");
    expect(c.answer).toBe("label");
  });

  it("resolves relative paths against the config's folder and keeps Hub ids", () => {
    const c = readConfig(write("ok.json", JSON.stringify({
      baseModel: "owner/model",
      data: { train: "t.jsonl" },
      out: "runs/x",
    })));

    expect(c.baseModel).toBe("owner/model");
    expect(c.data.train).toBe(path.join(dir, "t.jsonl"));
    expect(c.out).toBe(path.join(dir, "runs/x"));
  });

  it.each([
    ["bad.json", "{ nope", /bad.json: not valid JSON/],
    ["notrain.json", JSON.stringify({ data: {} }), /field "data.train" is missing/],
    ["key.json", JSON.stringify({ data: { train: "t" }, train: { lr: 1 } }), /field "train.lr" is unknown/],
    ["answer.json", JSON.stringify({ data: { train: "t" }, answer: "yes" }), /field "answer" must be one of/],
    ["null.json", "null", /expected a JSON object/],
    ["method.json", JSON.stringify({ data: { train: "t" }, train: { method: "qlora" } }),
      /field "train.method" must be one of "lora", "full", "freeze", got "qlora"/],
    ["lr.json", JSON.stringify({ data: { train: "t" }, train: { learningRate: "1e-3" } }),
      /field "train.learningRate" must be a number >= 0, got "1e-3"/],
    ["batch.json", JSON.stringify({ data: { train: "t" }, train: { batchSize: 0 } }),
      /field "train.batchSize" must be a whole number >= 1, got 0/],
    ["targets.json", JSON.stringify({ data: { train: "t" }, train: { lora: { targetModules: "q_proj" } } }),
      /field "train.lora.targetModules" must be a list of strings/],
    ["rank.json", JSON.stringify({ data: { train: "t" }, train: { lora: { rank: 8 } } }),
      /field "train.lora.rank" is unknown; use r, alpha/],
    ["top.json", JSON.stringify({ data: { train: "t" }, foo: 1 }), /field "foo" is unknown/],
    ["trian.json", JSON.stringify({ data: { trian: "t" } }), /field "data.trian" is unknown/],
    ["out.json", JSON.stringify({ data: { train: "t" }, out: 5 }), /field "out" must be a non-empty string, got 5/],
    ["overlength.json", JSON.stringify({ data: { train: "t", overLength: "chop" } }),
      /field "data.overLength" must be one of "drop", "truncate", "error"/],
    ["before.json", JSON.stringify({ data: { train: "t" }, eval: { before: -1 } }),
      /field "eval.before" must be a whole number >= 0, got -1/],
  ])("%s fails with a one-line message", (name, text, message) => {
    expect(() => readConfig(write(name, text))).toThrow(message);
  });

  it("names a missing file", () => {
    expect(() => readConfig(path.join(dir, "missing.json"))).toThrow(/missing.json: cannot read \(ENOENT\)/);
  });
});
