// Loads a Hugging Face Llama folder (config.json + one or many .safetensors shards) and checks
// that every tensor the architecture needs is there with the right shape.
import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";

import { TunebookError } from "../errors.js";
import { type LlamaConfig, parseLlamaConfig } from "./config.js";
import { type NamedTensor, readSafetensors } from "./safetensors.js";

/** A model folder in memory: its config and its tensors by Hugging Face name. */
export interface ModelFolder {
  config: LlamaConfig;
  tensors: Map<string, NamedTensor>;
}

/** The Hugging Face tensor names and shapes a Llama model with this config holds. */
export function expectedTensors(cfg: LlamaConfig): Map<string, number[]> {
  const D = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const I = cfg.intermediateSize;
  const out = new Map<string, number[]>();
  out.set("model.embed_tokens.weight", [cfg.vocabSize, D]);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`${p}.self_attn.q_proj.weight`, [q, D]);
    out.set(`${p}.self_attn.k_proj.weight`, [kv, D]);
    out.set(`${p}.self_attn.v_proj.weight`, [kv, D]);
    out.set(`${p}.self_attn.o_proj.weight`, [D, q]);
    out.set(`${p}.mlp.gate_proj.weight`, [I, D]);
    out.set(`${p}.mlp.up_proj.weight`, [I, D]);
    out.set(`${p}.mlp.down_proj.weight`, [D, I]);
    out.set(`${p}.input_layernorm.weight`, [D]);
    out.set(`${p}.post_attention_layernorm.weight`, [D]);
  }
  out.set("model.norm.weight", [D]);
  if (!cfg.tieWordEmbeddings) out.set("lm_head.weight", [cfg.vocabSize, D]);
  return out;
}

/**
 * Checks tensors against the config; returns only the expected ones (extras such as old
 * `rotary_emb.inv_freq` buffers, or an `lm_head.weight` copy in a tied model, are dropped).
 */
export function checkTensors(
  cfg: LlamaConfig,
  tensors: Map<string, NamedTensor>,
  where: (name: string) => string,
): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, shape] of expectedTensors(cfg)) {
    const t = tensors.get(name);
    if (t === undefined) {
      throw new TunebookError(
        `${where(name)}: tensor "${name}" is missing; the weights do not match config.json`,
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new TunebookError(
        `${where(name)}: tensor "${name}" has shape [${t.shape.join(", ")}] but config.json ` +
          `implies [${shape.join(", ")}]`,
      );
    }
    out.set(name, { shape: t.shape, values: t.values });
  }
  return out;
}

/** Reads config.json and the weights (model.safetensors or a sharded index) of a folder. */
export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const configPath = path.join(dir, "config.json");
  const config = parseLlamaConfig(await readJson(configPath), configPath);

  const single = path.join(dir, "model.safetensors");
  const indexPath = path.join(dir, "model.safetensors.index.json");
  if (await exists(single)) {
    const tensors = await readSafetensors(single);
    return { config, tensors: checkTensors(config, tensors, () => single) };
  }
  if (!(await exists(indexPath))) {
    throw new TunebookError(
      `${dir}: neither model.safetensors nor model.safetensors.index.json is there; ` +
        `convert .bin weights to safetensors first`,
    );
  }

  const weightMap = parseIndex(await readJson(indexPath), indexPath);
  const shards = [...new Set(weightMap.values())].sort();
  const tensors = new Map<string, NamedTensor>();
  for (const shard of shards) {
    const shardPath = path.join(dir, shard);
    for (const [name, t] of await readSafetensors(shardPath)) {
      if (weightMap.get(name) === shard) tensors.set(name, t);
    }
  }
  const where = (name: string): string =>
    weightMap.has(name) ? path.join(dir, weightMap.get(name)!) : indexPath;
  return { config, tensors: checkTensors(config, tensors, where) };
}

function parseIndex(json: unknown, file: string): Map<string, string> {
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm)) {
    throw new TunebookError(`${file}: field "weight_map" is missing or not an object`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(wm)) {
    // A shard name must stay inside the folder: no paths, no "..".
    if (typeof shard !== "string" || shard !== path.basename(shard) || shard.startsWith(".")) {
      throw new TunebookError(
        `${file}: weight_map["${name}"] is ${JSON.stringify(shard)}; expected a file name ` +
          `in the same folder`,
      );
    }
    out.set(name, shard);
  }
  return out;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TunebookError(`${file}: cannot read (${code ?? String(err)}); check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TunebookError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
