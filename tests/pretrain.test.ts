// The pretraining recipe on a tiny corpus: tokenizer, model, model card, and a loadable folder.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { LlamaModel } from "../lib/model/llama.js";
import { Tokenizer } from "../lib/tokens/tokenizer.js";
import { pretrain, PRETRAIN_DEFAULTS } from "../lib/train/pretrain.js";

describe("pretrain", () => {
  it("writes a Hugging Face model folder with a model card and held-out text", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tb-pretrain-"));
    const corpus = path.join(dir, "corpus");
    mkdirSync(corpus);
    const text = Array.from({ length: 400 }, (_, i) => `the cat number ${i % 17} sat on the mat.`);
    writeFileSync(path.join(corpus, "cats.txt"), text.join("\n") + "\n");
    const out = path.join(dir, "base");
    const lines: string[] = [];

    const result = await pretrain({
      ...PRETRAIN_DEFAULTS,
      corpusDir: corpus,
      outDir: out,
      vocabSize: 300,
      contextLength: 32,
      hiddenSize: 16,
      numLayers: 1,
      numHeads: 2,
      numKvHeads: 1,
      intermediateSize: 32,
      steps: 30,
      batchSize: 8,
      warmupSteps: 3,
      learningRate: 1e-2,
      log: (l) => lines.push(l),
    });

    const model = await LlamaModel.load(out);
    const tokenizer = await Tokenizer.load(out);
    const card = readFileSync(path.join(out, "README.md"), "utf8");
    expect(model.numParameters()).toBe(result.parameters);
    // The trainer stops merging when no pair repeats, so a tiny corpus may leave ids unused.
    expect(tokenizer.vocabSize).toBeLessThanOrEqual(300);
    expect(tokenizer.vocabSize).toBeGreaterThan(280);
    expect(model.config.vocabSize).toBe(tokenizer.vocabSize);
    expect(tokenizer.chatTemplate).toContain("<|assistant|>");
    expect(result.validationLoss).toBeLessThan(Math.log(tokenizer.vocabSize) - 1);
    expect(card).toContain(result.parameters.toLocaleString());
    expect(card).toContain(result.validationPerplexity.toFixed(1));
    expect(existsSync(path.join(out, "heldout.txt"))).toBe(true);
    expect(lines[0]).toMatch(/^pretrain \| backend /);
  });
});
