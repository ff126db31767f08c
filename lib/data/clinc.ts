// CLINC150 intent data (Larson et al. 2019) from its original JSON: items [utterance, intent],
// turned into instruction records whose answer is the intent name.
import { readFileSync } from "node:fs";
import { TunebookError } from "../errors.js";
import type { Example } from "./records.js";

/** The intent name CLINC150 gives out-of-scope utterances. */
export const OOS_LABEL = "oos";

export interface Clinc150 {
  train: Example[];
  validation: Example[];
  oosTrain: Example[];
  oosValidation: Example[];
  /** The in-scope intent names, sorted (150 in the full release); "oos" is not among them. */
  labels: string[];
}

const SPLITS = {
  train: "train", validation: "val", oosTrain: "oos_train", oosValidation: "oos_val",
};

/**
 * Read clinc150.json. The file is a single line, so `source` names the split and the item:
 * file "clinc150.json#train", line = 1-based position within that split.
 */
export function loadClinc150(path: string): Clinc150 {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(readFileSync(path, "utf-8"));
  } catch (e) {
    throw new TunebookError(`${path}: cannot read CLINC150 JSON (${(e as Error).message})`);
  }

  const read = (key: string): Example[] => {
    const items = data[key];
    if (!Array.isArray(items)) {
      throw new TunebookError(
        `${path}: no "${key}" array; pass the original clinc150 data_full.json`,
      );
    }
    return items.map((item: unknown, i) => {
      if (!Array.isArray(item) || typeof item[0] !== "string" || typeof item[1] !== "string") {
        throw new TunebookError(`${path}: ${key}[${i}] is not [utterance, intent]`);
      }
      return {
        messages: [
          { role: "user", content: item[0] },
          { role: "assistant", content: item[1] },
        ],
        source: { file: `${path}#${key}`, line: i + 1 },
      };
    });
  };

  const train = read(SPLITS.train);
  const labels = [...new Set(train.map((ex) => ex.messages[1].content))]
    .filter((l) => l !== OOS_LABEL)
    .sort();
  return {
    train,
    validation: read(SPLITS.validation),
    oosTrain: read(SPLITS.oosTrain),
    oosValidation: read(SPLITS.oosValidation),
    labels,
  };
}
