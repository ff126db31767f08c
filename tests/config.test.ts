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
    ["notrain.json", JSON.stringify({ data: {} }), /field "data.train" must be a string/],
    ["key.json", JSON.stringify({ data: { train: "t" }, train: { lr: 1 } }), /field "train.lr" is unknown/],
    ["answer.json", JSON.stringify({ data: { train: "t" }, answer: "yes" }), /field "answer" must be/],
  ])("%s fails with a one-line message", (name, text, message) => {
    expect(() => readConfig(write(name, text))).toThrow(message);
  });

  it("names a missing file", () => {
    expect(() => readConfig(path.join(dir, "missing.json"))).toThrow(/missing.json: cannot read \(ENOENT\)/);
  });
});
