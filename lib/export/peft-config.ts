// adapter_config.json for LoRA adapters: the typed config, the keys PEFT writes, and the
// checks a config must pass before tunebook writes or loads it.
import { TunebookError } from "../errors.js";

/** LoRA settings; each field is saved under the PEFT name given in brackets. */
export interface PeftLoraConfig {
  /** Rank of the update B·A [r]. */
  r: number;
  /** Update scale numerator: the update is multiplied by loraAlpha / r [lora_alpha]. */
  loraAlpha: number;
  /** Dropout applied to the adapter's input while training [lora_dropout]. */
  loraDropout: number;
  /** Modules with an adapter, e.g. ["q_proj", "v_proj"], not "all-linear" [target_modules]. */
  targetModules: string[];
  /** Hugging Face id or folder of the base model [base_model_name_or_path]. */
  baseModelNameOrPath: string;
  /** Modules saved whole next to the adapter, e.g. ["lm_head"] [modules_to_save]. */
  modulesToSave?: string[] | null;
  /** Scale by loraAlpha / sqrt(r) instead of loraAlpha / r [use_rslora]. Default false. */
  useRslora?: boolean;
}

/** The config as PEFT saves it: only keys that PEFT versions old and new all understand. */
export function toConfigJson(config: PeftLoraConfig): Record<string, unknown> {
  const c = config ?? ({} as PeftLoraConfig);
  const sortedUnique = (xs: unknown) =>
    Array.isArray(xs) ? [...new Set(xs)].sort() : xs;
  return {
    alpha_pattern: {},
    base_model_name_or_path: c.baseModelNameOrPath,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    modules_to_save: c.modulesToSave == null ? null : sortedUnique(c.modulesToSave),
    peft_type: "LORA",
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: sortedUnique(c.targetModules),
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: c.useRslora ?? false,
  };
}

export function fromConfigJson(json: Record<string, unknown>): PeftLoraConfig {
  return {
    r: json.r as number,
    loraAlpha: json.lora_alpha as number,
    loraDropout: (json.lora_dropout as number | undefined) ?? 0,
    targetModules: json.target_modules as string[],
    baseModelNameOrPath: json.base_model_name_or_path as string,
    modulesToSave: (json.modules_to_save as string[] | null | undefined) ?? null,
    useRslora: (json.use_rslora as boolean | undefined) ?? false,
  };
}

/** JSON with object keys sorted at every level, two-space indent (as PEFT writes it). */
export function stringifySorted(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === "object") {
      const obj = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeys(obj[k])]));
    }
    return v;
  };
  return JSON.stringify(sortKeys(value), null, 2);
}

const CAMEL: Record<string, string> = {
  base_model_name_or_path: "baseModelNameOrPath",
  lora_alpha: "loraAlpha",
  lora_dropout: "loraDropout",
  target_modules: "targetModules",
  modules_to_save: "modulesToSave",
  use_rslora: "useRslora",
};

/**
 * Checks every field tunebook relies on; `where` starts each error message, and `aliases` adds
 * the PeftLoraConfig field name to it (for callers who wrote camelCase, not the JSON).
 */
export function checkConfigJson(
  raw: unknown,
  where: string,
  aliases: boolean,
): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new TunebookError(`${where}: must be a JSON object of LoRA settings`);
  }
  const json = raw as Record<string, unknown>;
  const fail = (key: string, rule: string): never => {
    const alias = aliases && CAMEL[key] ? ` (${CAMEL[key]})` : "";
    const got = json[key] === undefined ? "it is missing" : `got ${JSON.stringify(json[key])}`;
    throw new TunebookError(`${where}: field "${key}"${alias} ${rule}; ${got}`);
  };
  const isStringList = (v: unknown) =>
    Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string" && s !== "");
  const isEmptyObject = (v: unknown) =>
    v === undefined || (typeof v === "object" && v !== null && Object.keys(v).length === 0);

  if (json.peft_type !== "LORA") fail("peft_type", `must be "LORA" (only LoRA adapters are read)`);
  if (json.task_type !== undefined && json.task_type !== null && json.task_type !== "CAUSAL_LM") {
    fail("task_type", `must be "CAUSAL_LM"`);
  }
  if (typeof json.base_model_name_or_path !== "string" || json.base_model_name_or_path === "") {
    fail("base_model_name_or_path", "must name the base model (Hugging Face id or folder)");
  }
  if (!Number.isInteger(json.r) || (json.r as number) <= 0) {
    fail("r", "must be a positive integer (the LoRA rank)");
  }
  const alpha = json.lora_alpha;
  if (typeof alpha !== "number" || !Number.isFinite(alpha) || alpha <= 0) {
    fail("lora_alpha", "must be a positive number");
  }
  const dropout = json.lora_dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) {
    fail("lora_dropout", "must be a number from 0 up to (not including) 1");
  }
  const targets = json.target_modules;
  if (targets === "all-linear" || (Array.isArray(targets) && targets.includes("all-linear"))) {
    fail("target_modules", `must list the module names that "all-linear" stands for`);
  }
  if (typeof targets === "string") {
    fail("target_modules", "must be a list of module names; a regular expression is not read");
  }
  if (!isStringList(targets)) {
    fail("target_modules", `must list module names such as ["q_proj", "v_proj"]`);
  }
  if (json.modules_to_save != null && !isStringList(json.modules_to_save)) {
    fail("modules_to_save", "must be null or a list of module names such as [\"lm_head\"]");
  }
  if (json.use_rslora !== undefined && typeof json.use_rslora !== "boolean") {
    fail("use_rslora", "must be true or false");
  }

  // Variants whose tensors or scaling this adapter loader does not handle.
  if (json.bias !== undefined && json.bias !== "none") fail("bias", `must be "none"`);
  if (json.fan_in_fan_out !== undefined && json.fan_in_fan_out !== false) {
    fail("fan_in_fan_out", "must be false (Llama linear weights are stored [out, in])");
  }
  if (json.use_dora !== undefined && json.use_dora !== false) {
    fail("use_dora", "must be false (DoRA adapters are not supported)");
  }
  if (json.lora_bias !== undefined && json.lora_bias !== false) {
    fail("lora_bias", "must be false (LoRA bias terms are not supported)");
  }
  if (!isEmptyObject(json.rank_pattern)) {
    fail("rank_pattern", "must be {} (one rank for every module is supported)");
  }
  if (!isEmptyObject(json.alpha_pattern)) {
    fail("alpha_pattern", "must be {} (one alpha for every module is supported)");
  }
  return json;
}
