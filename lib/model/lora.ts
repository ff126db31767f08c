// LoRA adapter settings and naming: which linear layers get adapters, and PEFT's tensor names.
import { TunebookError } from "../errors.js";
import type { LlamaConfig } from "./config.js";

/** The linear layers of a Llama decoder layer that can carry an adapter. */
export const LINEAR_MODULES = [
  "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** LoRA settings; the same meaning as PEFT's LoraConfig fields named in brackets. */
export interface LoraConfig {
  /** Rank of the adapter matrices (r). */
  r: number;
  /** Scaling numerator: the update is multiplied by alpha / r (lora_alpha). */
  alpha: number;
  /** Dropout on the adapter's input while training, 0 to 1 (lora_dropout). */
  dropout: number;
  /** Linear layers that get adapters, e.g. ["q_proj", "v_proj"], or ["all-linear"]. */
  targetModules: string[];
  /** Seed for the A matrices' initial values. */
  seed?: number;
  /** Scale by alpha / sqrt(r) instead of alpha / r (use_rslora). */
  useRslora?: boolean;
}

/** Checks the settings and expands "all-linear"; returns the target modules in layer order. */
export function resolveTargets(cfg: LoraConfig): LinearModule[] {
  if (!Number.isSafeInteger(cfg.r) || cfg.r < 1) {
    throw new TunebookError(`LoRA rank r is ${cfg.r}; use a whole number >= 1 (8 or 16 is usual)`);
  }
  if (!Number.isFinite(cfg.alpha) || cfg.alpha <= 0) {
    throw new TunebookError(`LoRA alpha is ${cfg.alpha}; use a positive number (often 2 * r)`);
  }
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) {
    throw new TunebookError(`LoRA dropout is ${cfg.dropout}; use a number from 0 up to below 1`);
  }
  if (cfg.targetModules.includes("all-linear")) return [...LINEAR_MODULES];
  if (cfg.targetModules.length === 0) {
    throw new TunebookError(
      `LoRA target modules are empty; name some of ${LINEAR_MODULES.join(", ")}`,
    );
  }
  for (const m of cfg.targetModules) {
    if (!(LINEAR_MODULES as readonly string[]).includes(m)) {
      throw new TunebookError(
        `LoRA target module "${m}" is not a Llama linear layer; use some of ` +
          `${LINEAR_MODULES.join(", ")} (or "all-linear")`,
      );
    }
  }
  return LINEAR_MODULES.filter((m) => cfg.targetModules.includes(m));
}

export function loraScale(cfg: LoraConfig): number {
  return cfg.useRslora === true ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** Hugging Face name of a linear layer's weight, e.g. model.layers.0.self_attn.q_proj.weight. */
export function linearName(layer: number, m: LinearModule): string {
  const block = m === "gate_proj" || m === "up_proj" || m === "down_proj" ? "mlp" : "self_attn";
  return `model.layers.${layer}.${block}.${m}.weight`;
}

/** PEFT names of the adapter matrices for one linear layer. */
export function loraNames(layer: number, m: LinearModule): { a: string; b: string } {
  const base = `base_model.model.${linearName(layer, m).replace(/\.weight$/, "")}`;
  return { a: `${base}.lora_A.weight`, b: `${base}.lora_B.weight` };
}

/** [out, in] of a linear layer. */
export function linearShape(cfg: LlamaConfig, m: LinearModule): [number, number] {
  const D = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const I = cfg.intermediateSize;
  switch (m) {
    case "q_proj": return [q, D];
    case "k_proj": return [kv, D];
    case "v_proj": return [kv, D];
    case "o_proj": return [D, q];
    case "gate_proj": return [I, D];
    case "up_proj": return [I, D];
    case "down_proj": return [D, I];
  }
}
