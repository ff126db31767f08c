// Builds the shipped base model from nothing: trains a byte-level BPE tokenizer on the corpus,
// pretrains a small Llama on it, and writes a Hugging Face model folder with its model card.
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { readPretrainCorpus, type CorpusDocument } from "../data/corpus.js";
import { describeBackend, initBackend } from "../engine/backend.js";
import { writeFolderAtomically } from "../export/atomic.js";
import type { LlamaConfig } from "../model/config.js";
import { LlamaModel } from "../model/llama.js";
import { trainBpe } from "../tokens/bpe-trainer.js";
import { CHAT_TEMPLATE, SPECIAL_TOKENS } from "../tokens/template.js";
import { defaultTokenizerConfig, Tokenizer } from "../tokens/tokenizer.js";
import type { EncodedRow } from "./batches.js";
import { type StepEvent, TrainingRun } from "./run.js";

export interface PretrainOptions {
  corpusDir: string;
  outDir: string;
  vocabSize: number;
  contextLength: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  /** Share of each document (its end) held out for validation perplexity. */
  validationFraction: number;
  seed: number;
  log: (line: string) => void;
  onStep?: (event: StepEvent) => void;
}

export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, "corpusDir" | "outDir" | "log"> = {
  vocabSize: 4096,
  contextLength: 128,
  hiddenSize: 128,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  intermediateSize: 344,
  steps: 1500,
  batchSize: 16,
  learningRate: 2e-3,
  warmupSteps: 100,
  validationFraction: 0.02,
  seed: 1234,
};

export interface PretrainResult {
  parameters: number;
  validationLoss: number;
  validationPerplexity: number;
  trainTokens: number;
  seconds: number;
}

/** Runs the whole recipe; the output folder appears only when it is complete. */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const started = Date.now();
  await initBackend();
  o.log(`pretrain | ${describeBackend()} | corpus ${o.corpusDir}`);

  // Corpus, with each document's tail held out so validation text is unseen.
  const docs = readPretrainCorpus(o.corpusDir);
  const { trainDocs, heldOut } = holdOut(docs, o.validationFraction);
  o.log(`corpus: ${docs.length} files, ${sumChars(docs).toLocaleString()} characters`);

  // Tokenizer, trained on the training part only.
  const tokenizerJson = trainBpe(
    trainDocs.map((d) => d.text),
    { vocabSize: o.vocabSize, specialTokens: [...SPECIAL_TOKENS] },
  );
  const tokenizer = Tokenizer.fromJSON(
    tokenizerJson,
    defaultTokenizerConfig(CHAT_TEMPLATE, o.contextLength),
  );
  const train = chunk(trainDocs, tokenizer, o.contextLength);
  const validation = chunk(heldOut, tokenizer, o.contextLength);
  const trainTokens = train.length * o.contextLength;
  o.log(
    `tokenizer: vocab ${tokenizer.vocabSize} | ${train.length} training chunks ` +
      `(${trainTokens.toLocaleString()} tokens), ${validation.length} validation chunks`,
  );

  // Model.
  const config: LlamaConfig = {
    hiddenSize: o.hiddenSize,
    intermediateSize: o.intermediateSize,
    numLayers: o.numLayers,
    numHeads: o.numHeads,
    numKvHeads: o.numKvHeads,
    headDim: o.hiddenSize / o.numHeads,
    vocabSize: tokenizer.vocabSize,
    maxPositions: o.contextLength * 2,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    bosTokenId: tokenizer.bosId,
    eosTokenId: tokenizer.eosId,
  };
  const model = LlamaModel.random(config, o.seed);
  const parameters = model.numParameters();
  o.log(`model: ${parameters.toLocaleString()} parameters`);

  // Training, with the same loop that fine-tunes.
  const run = new TrainingRun({
    model,
    params: model.trainableVariables({ method: "full" }),
    train,
    validation,
    options: {
      epochs: Math.max(1, Math.ceil((o.steps * o.batchSize) / train.length)),
      batchSize: o.batchSize,
      gradientAccumulation: 1,
      learningRate: o.learningRate,
      warmupRatio: o.warmupSteps / o.steps,
      minLearningRateRatio: 0.1,
      weightDecay: 0.1,
      maxGradNorm: 1,
      evalEvery: Math.max(100, Math.round(o.steps / 10)),
      seed: o.seed,
      maxSteps: o.steps,
      padId: tokenizer.padId,
    },
  });
  run.on("eval", (e) =>
    o.log(`step ${e.step} | train loss ${e.trainLoss.toFixed(3)} | val loss ${e.validationLoss.toFixed(3)}`),
  );
  if (o.onStep) run.on("step", o.onStep);
  await run;
  const validationLoss = run.evals.at(-1)?.validationLoss ?? Number.NaN;
  run.optimizer.dispose();

  // Output folder, written beside the target and renamed into place.
  const result: PretrainResult = {
    parameters,
    validationLoss,
    validationPerplexity: Math.exp(validationLoss),
    trainTokens,
    seconds: (Date.now() - started) / 1000,
  };
  await writeFolderAtomically(
    o.outDir,
    async (tmp) => {
      await model.save(tmp);
      await tokenizer.save(tmp, { modelMaxLength: o.contextLength });
      await writeFile(path.join(tmp, "heldout.txt"), heldOut.map((d) => d.text).join("\n\n"));
      await writeFile(path.join(tmp, "README.md"), modelCard(o, result, docs, run.steps.length));
    },
    { overwrite: true, marker: "config.json" },
  );
  model.dispose();
  o.log(
    `saved ${o.outDir} | val loss ${validationLoss.toFixed(3)} | ` +
      `perplexity ${result.validationPerplexity.toFixed(1)} | ${(result.seconds / 60).toFixed(1)} min`,
  );
  return result;
}

function holdOut(
  docs: CorpusDocument[],
  fraction: number,
): { trainDocs: CorpusDocument[]; heldOut: CorpusDocument[] } {
  const trainDocs: CorpusDocument[] = [];
  const heldOut: CorpusDocument[] = [];
  for (const d of docs) {
    // Cut at a line break so no sentence is split between the two sides.
    let cut = Math.floor(d.text.length * (1 - fraction));
    const nl = d.text.indexOf("\n", cut);
    if (nl !== -1) cut = nl + 1;
    trainDocs.push({ name: d.name, text: d.text.slice(0, cut) });
    heldOut.push({ name: d.name, text: d.text.slice(cut) });
  }
  return { trainDocs, heldOut };
}

/** Documents joined by EOS, cut into rows of BOS + contextLength tokens, all trained. */
function chunk(docs: CorpusDocument[], tokenizer: Tokenizer, contextLength: number): EncodedRow[] {
  const stream: number[] = [];
  for (const d of docs) {
    for (const ids of encodeInPieces(tokenizer, d.text)) for (const id of ids) stream.push(id);
    stream.push(tokenizer.eosId);
  }
  const rows: EncodedRow[] = [];
  for (let start = 0; start + contextLength <= stream.length; start += contextLength) {
    const ids = [tokenizer.bosId, ...stream.slice(start, start + contextLength)];
    rows.push({ ids, lossMask: ids.map((_, i) => (i === 0 ? 0 : 1)) });
  }
  return rows;
}

/** Encodes long texts in pieces of whole lines (one call on megabytes of text is slow). */
function* encodeInPieces(tokenizer: Tokenizer, text: string, size = 8192): Generator<number[]> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start + size);
    end = end === -1 ? text.length : end + 1;
    yield tokenizer.encode(text.slice(start, end));
    start = end;
  }
}

function sumChars(docs: CorpusDocument[]): number {
  return docs.reduce((n, d) => n + d.text.length, 0);
}

function modelCard(
  o: PretrainOptions,
  r: PretrainResult,
  docs: CorpusDocument[],
  steps: number,
): string {
  const files = docs.map((d) => `- \`${d.name}\``).join("\n");
  return `# tunebook-base

A small Llama-architecture language model, pretrained from scratch by tunebook's own
reproducible command (\`npm run pretrain\`) so that the project has a base model to fine-tune
offline. It is a teaching and testing model: it writes plausible-looking English fragments,
nothing more.

| | |
|---|---|
| parameters | ${r.parameters.toLocaleString()} |
| layers × width | ${o.numLayers} × ${o.hiddenSize} (${o.numHeads} query heads, ${o.numKvHeads} key/value heads, MLP ${o.intermediateSize}) |
| vocabulary | ${o.vocabSize} (byte-level BPE trained by tunebook on the same corpus) |
| context | ${o.contextLength} tokens |
| training | ${steps} steps × ${o.batchSize} sequences × ${o.contextLength} tokens, AdamW, peak learning rate ${o.learningRate}, warmup ${o.warmupSteps}, cosine decay |
| training tokens | ${r.trainTokens.toLocaleString()} in the corpus |
| validation loss | ${r.validationLoss.toFixed(3)} |
| validation perplexity | ${r.validationPerplexity.toFixed(1)} (per token, on the held-out last ${(o.validationFraction * 100).toFixed(0)} % of each file: \`heldout.txt\`) |
| wall time | ${(r.seconds / 60).toFixed(1)} minutes on ${describeBackend()} |

## Data

The pretraining corpus (Project Gutenberg licence headers and footers removed):

${files}

Shakespeare and the Gutenberg novels (Pride and Prejudice, Frankenstein, Moby-Dick) are in the
public domain in the USA; the Wikipedia sentences are CC BY-SA 3.0 (from the CLINC150 release),
so this model's weights are shared under CC BY-SA 3.0 as well.

## Files

\`config.json\`, \`model.safetensors\` (F32, tied embeddings), \`tokenizer.json\`,
\`tokenizer_config.json\` (with the chat template used for fine-tuning) and \`heldout.txt\`, the
validation text, which tunebook's forgetting check reuses.

## Reproduce

\`\`\`
npm run pretrain
\`\`\`

with seed ${o.seed}. Results vary slightly between backends.
`;
}
