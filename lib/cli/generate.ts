// `tunebook generate`: continues a prompt with a model folder (and optionally a run's adapter).
// Prints {"ids": [...], "text": "..."} with --json; ids are the new tokens only.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { initBackend } from "../engine/backend.js";
import { TunebookError } from "../errors.js";
import { attachAdapter } from "../export/run-export.js";
import { generate } from "../model/generate.js";
import { resolveModel } from "../model/hub.js";
import { LlamaModel } from "../model/llama.js";
import { Tokenizer } from "../tokens/tokenizer.js";

export interface GenerateCommandOptions {
  model: string;
  run?: string;
  prompt?: string;
  ids?: string;
  maxNewTokens: number;
  greedy: boolean;
  temperature: number;
  seed: number;
  raw: boolean;
  json: boolean;
}

export async function generateCommand(opts: GenerateCommandOptions): Promise<void> {
  if ((opts.prompt === undefined) === (opts.ids === undefined)) {
    throw new TunebookError("give exactly one of --prompt TEXT or --ids 1,2,3");
  }
  await initBackend();
  const dir = await resolveModel(opts.model);
  const merged = opts.run === undefined ? null : path.join(opts.run, "merged");
  const modelDir = merged !== null && existsSync(path.join(merged, "model.safetensors")) ? merged : dir;
  const model = await LlamaModel.load(modelDir);
  const tokenizer = existsSync(path.join(modelDir, "tokenizer.json"))
    ? await Tokenizer.load(modelDir)
    : null;
  if (opts.run !== undefined && modelDir !== merged) {
    const adapterDir = path.join(opts.run, "adapter");
    if (!existsSync(adapterDir)) {
      throw new TunebookError(`${opts.run}: no adapter/ or merged/ folder; is it a run folder?`);
    }
    await attachAdapter(model, adapterDir);
  }

  const prompt = opts.ids !== undefined ? parseIds(opts.ids, model.config.vocabSize) : encodePrompt(tokenizer, opts);
  const [ids] = generate(model, [prompt], {
    maxNewTokens: opts.maxNewTokens,
    greedy: opts.greedy,
    temperature: opts.temperature,
    seed: opts.seed,
    // Without a tokenizer there is no agreed end token: run the full length.
    eosTokenId: tokenizer === null ? null : tokenizer.eosId,
  });
  const text = tokenizer === null ? undefined : tokenizer.decode(ids, { skipSpecialTokens: true });
  if (opts.json) {
    process.stdout.write(JSON.stringify(text === undefined ? { ids } : { ids, text }) + "\n");
  } else {
    process.stdout.write((text ?? ids.join(",")) + "\n");
  }
}

function encodePrompt(tokenizer: Tokenizer | null, opts: GenerateCommandOptions): number[] {
  if (tokenizer === null) {
    throw new TunebookError(`${opts.model} has no tokenizer.json: pass the prompt as --ids 1,2,3`);
  }
  const text = opts.prompt!;
  if (opts.raw || tokenizer.chatTemplate === undefined) {
    return [tokenizer.bosId, ...tokenizer.encode(text)];
  }
  return tokenizer.encode(
    tokenizer.applyChatTemplate([{ role: "user", content: text }], { addGenerationPrompt: true }),
  );
}

function parseIds(list: string, vocabSize: number): number[] {
  const ids = list.split(",").map((s) => s.trim());
  return ids.map((s, i) => {
    const n = Number(s);
    if (s === "" || !Number.isInteger(n) || n < 0 || n >= vocabSize) {
      throw new TunebookError(
        `--ids: item ${i + 1} ("${s}") is not a token id from 0 to ${vocabSize - 1}`,
      );
    }
    return n;
  });
}
