// A tiny text model for audit and check tests: a byte-level BPE tokenizer trained on a few
// sentences and a random Llama sized to it, optionally saved as a model folder.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { LlamaConfig } from "../../lib/model/config.js";
import { LlamaModel } from "../../lib/model/llama.js";
import { trainBpe } from "../../lib/tokens/bpe-trainer.js";
import { CHAT_TEMPLATE, SPECIAL_TOKENS } from "../../lib/tokens/template.js";
import { defaultTokenizerConfig, Tokenizer } from "../../lib/tokens/tokenizer.js";
import type { EncodedRow } from "../../lib/train/batches.js";

const TEXTS = [
  "what is the weather today",
  "book a table for two",
  "play some music",
  "set a timer",
  "the cat sat on the mat",
  "she went to the market and he stayed home",
];

export function textTokenizer(): Tokenizer {
  const json = trainBpe(TEXTS, { vocabSize: 300, specialTokens: [...SPECIAL_TOKENS] });
  return Tokenizer.fromJSON(json, defaultTokenizerConfig(CHAT_TEMPLATE));
}

export function textConfig(tokenizer: Tokenizer): LlamaConfig {
  return {
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    vocabSize: tokenizer.vocabSize,
    maxPositions: 96,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    bosTokenId: tokenizer.bosId,
    eosTokenId: tokenizer.eosId,
  };
}

export function textModel(tokenizer: Tokenizer, seed = 0): LlamaModel {
  return LlamaModel.random(textConfig(tokenizer), seed);
}

/** A model folder (config, weights, tokenizer) in a fresh temporary directory. */
export async function textModelDir(seed = 0): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "tb-audit-model-"));
  const tokenizer = textTokenizer();
  const model = textModel(tokenizer, seed);
  await model.save(dir);
  await tokenizer.save(dir);
  model.dispose();
  return dir;
}

/** A text as a training row: BOS + tokens, every token a target. */
export function textRow(tokenizer: Tokenizer, text: string): EncodedRow {
  const ids = [tokenizer.bosId, ...tokenizer.encode(text)];
  return { ids, lossMask: ids.map((_, i) => (i === 0 ? 0 : 1)) };
}
