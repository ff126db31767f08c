// Fine-tuning config files: JSON with goal, base model, data, training and evaluation settings.
// Relative paths are resolved against the config file's folder; every field is checked before
// any work starts.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { TunebookError } from "../errors.js";
import type { Goal, TrainOptions } from "../session.js";
import { checkOptions, type Rule, TOKENIZE_RULES, TRAIN_RULES } from "../train/options.js";

export interface FinetuneConfig {
  goal: string;
  answer: Goal["answer"];
  requiredKeys?: string[];
  baseModel: string;
  data: {
    train: string;
    validation?: string;
    validationFraction?: number;
    encoding?: "utf-8" | "latin1";
    maxLength?: number;
    overLength?: "drop" | "truncate" | "error";
  };
  train: TrainOptions;
  /** Validation examples to evaluate before and after training (null: all, 0: skip). */
  eval: { before: number | null; after: number | null; baseline: boolean };
  out: string;
}

export const DEMO_CONFIG = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  import.meta.url.includes("/dist/") ? "../../../configs/clinc150.json" : "../../configs/clinc150.json",
);

const TOP_RULES: Record<string, Rule> = {
  goal: { kind: "string" },
  answer: { kind: "enum", values: ["label", "json", "free"] },
  requiredKeys: { kind: "strings" },
  baseModel: { kind: "string" },
  data: {
    kind: "object",
    rules: {
      train: { kind: "string" },
      validation: { kind: "string" },
      validationFraction: { kind: "number", min: 0, max: 1, maxExclusive: true },
      encoding: { kind: "enum", values: ["utf-8", "latin1"] },
      ...TOKENIZE_RULES,
    },
  },
  train: { kind: "object", rules: TRAIN_RULES },
  eval: {
    kind: "object",
    rules: {
      before: { kind: "int", min: 0 },
      after: { kind: "int", min: 0 },
      baseline: { kind: "boolean" },
    },
  },
  out: { kind: "string" },
};

export function readConfig(file: string): FinetuneConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new TunebookError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TunebookError(`${file}: not valid JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TunebookError(`${file}: expected a JSON object with "data", "train", ... fields`);
  }
  // null means "the default" for the evaluation limits; elsewhere it is a mistake.
  const c = raw as Record<string, unknown>;
  const evalRaw = (c.eval ?? {}) as Record<string, unknown>;
  const limits = { before: evalRaw.before ?? undefined, after: evalRaw.after ?? undefined };
  checkOptions({ ...c, eval: c.eval === undefined ? undefined : { ...evalRaw, ...limits } }, TOP_RULES, file, "");
  const data = (c.data ?? {}) as Record<string, unknown>;
  if (data.train === undefined) {
    throw new TunebookError(`${file}: field "data.train" is missing; name the training file`);
  }

  const at = (p: string) => path.resolve(path.dirname(file), p);
  const local = (p: string) => p.startsWith(".") || p.startsWith("/");
  return {
    goal: (c.goal as string | undefined) ?? "",
    answer: (c.answer as Goal["answer"] | undefined) ?? "label",
    requiredKeys: c.requiredKeys as string[] | undefined,
    baseModel:
      typeof c.baseModel === "string"
        ? local(c.baseModel) ? at(c.baseModel) : c.baseModel
        : at("../models/tunebook-base"),
    data: {
      train: at(data.train as string),
      validation: data.validation === undefined ? undefined : at(data.validation as string),
      validationFraction: data.validationFraction as number | undefined,
      encoding: data.encoding as "utf-8" | "latin1" | undefined,
      maxLength: data.maxLength as number | undefined,
      overLength: data.overLength as "drop" | "truncate" | "error" | undefined,
    },
    train: (c.train ?? {}) as TrainOptions,
    eval: {
      before: (limits.before as number | undefined) ?? null,
      after: (limits.after as number | undefined) ?? null,
      baseline: evalRaw.baseline !== false,
    },
    out: typeof c.out === "string" ? at(c.out) : at("runs/run"),
  };
}
