// Checks training options before any work starts, so a typo fails in one line that names the
// field, not after minutes of loading and evaluation.
import { TunebookError } from "../errors.js";

export type Rule =
  | { kind: "int"; min: number; max?: number }
  | { kind: "number"; min: number; max?: number; maxExclusive?: boolean }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "string" }
  | { kind: "strings" }
  | { kind: "boolean" }
  | { kind: "object"; rules: Record<string, Rule> };

export const LORA_RULES: Record<string, Rule> = {
  r: { kind: "int", min: 1 },
  alpha: { kind: "number", min: 0 },
  dropout: { kind: "number", min: 0, max: 1, maxExclusive: true },
  targetModules: { kind: "strings" },
  seed: { kind: "int", min: 0 },
  useRslora: { kind: "boolean" },
};

export const TRAIN_RULES: Record<string, Rule> = {
  method: { kind: "enum", values: ["lora", "full", "freeze"] },
  lora: { kind: "object", rules: LORA_RULES },
  freezeLayers: { kind: "int", min: 0 },
  epochs: { kind: "int", min: 1 },
  batchSize: { kind: "int", min: 1 },
  gradientAccumulation: { kind: "int", min: 1 },
  learningRate: { kind: "number", min: 0 },
  warmupRatio: { kind: "number", min: 0, max: 1, maxExclusive: true },
  minLearningRateRatio: { kind: "number", min: 0, max: 1 },
  weightDecay: { kind: "number", min: 0 },
  maxGradNorm: { kind: "number", min: 0 },
  evalEvery: { kind: "int", min: 0 },
  maxSteps: { kind: "int", min: 0 },
  seed: { kind: "int", min: 0 },
  checkpointDir: { kind: "string" },
  resumeFrom: { kind: "string" },
  earlyStopping: {
    kind: "object",
    rules: { patience: { kind: "int", min: 1 }, minDelta: { kind: "number", min: 0 } },
  },
};

export const TOKENIZE_RULES: Record<string, Rule> = {
  maxLength: { kind: "int", min: 2 },
  overLength: { kind: "enum", values: ["drop", "truncate", "error"] },
};

/**
 * Throws a TunebookError naming the first bad field, e.g.
 * `config.json: field "train.batchSize" must be a whole number >= 1, got 0`.
 * `where` prefixes the message and `prefix` the field names.
 */
export function checkOptions(
  value: unknown,
  rules: Record<string, Rule>,
  where: string,
  prefix: string,
): void {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TunebookError(`${where}: field "${prefix}" must be an object, got ${show(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    const name = prefix === "" ? key : `${prefix}.${key}`;
    const rule = rules[key];
    if (rule === undefined) {
      throw new TunebookError(
        `${where}: field "${name}" is unknown; use ${Object.keys(rules).join(", ")}`,
      );
    }
    if (v === undefined) continue;
    const problem = check(v, rule);
    if (problem === "nested") {
      checkOptions(v, (rule as { rules: Record<string, Rule> }).rules, where, name);
    } else if (problem !== null) {
      throw new TunebookError(`${where}: field "${name}" must be ${problem}, got ${show(v)}`);
    }
  }
}

function check(v: unknown, rule: Rule): string | null | "nested" {
  switch (rule.kind) {
    case "int": {
      const ok = typeof v === "number" && Number.isSafeInteger(v) && v >= rule.min &&
        (rule.max === undefined || v <= rule.max);
      return ok ? null : `a whole number >= ${rule.min}${rule.max === undefined ? "" : ` and <= ${rule.max}`}`;
    }
    case "number": {
      const below = rule.max === undefined || (rule.maxExclusive ? (v as number) < rule.max : (v as number) <= rule.max);
      const ok = typeof v === "number" && Number.isFinite(v) && v >= rule.min && below;
      const top = rule.max === undefined ? "" : ` and ${rule.maxExclusive ? "<" : "<="} ${rule.max}`;
      return ok ? null : `a number >= ${rule.min}${top}`;
    }
    case "boolean":
      return typeof v === "boolean" ? null : "true or false";
    case "enum":
      return typeof v === "string" && rule.values.includes(v)
        ? null
        : `one of ${rule.values.map((x) => `"${x}"`).join(", ")}`;
    case "string":
      return typeof v === "string" && v.trim() !== "" ? null : "a non-empty string";
    case "strings":
      return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")
        ? null
        : 'a list of strings, e.g. ["q_proj", "v_proj"]';
    case "object":
      return "nested";
  }
}

function show(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
