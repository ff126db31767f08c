// Memorisation: how often the model reproduces training answers verbatim, against how often it
// produces validation answers verbatim. A large gap means it learned examples, not the task.
import type { Example } from "../data/records.js";
import { answerPrompts } from "../eval/answer.js";
import { normalizeAnswer } from "../eval/metrics.js";
import type { LlamaModel } from "../model/llama.js";
import type { Tokenizer } from "../tokens/tokenizer.js";
import type { RecordRef } from "../audits/records.js";

export interface MemorisationOptions {
  /** Examples taken from each side (default 200; the first ones, for repeatability). */
  limit?: number;
  maxNewTokens?: number;
  batchSize?: number;
}

export interface MemorisationResult {
  counts: { train: number; validation: number; trainVerbatim: number; validationVerbatim: number };
  trainRate: number;
  validationRate: number;
  /** trainRate - validationRate. */
  gap: number;
  /** Training records answered verbatim (the longest answers first, at most 50). */
  records: (RecordRef & { answer: string })[];
  charts: { rates: { x: string[]; y: number[] } };
  summary: string;
}

export function memorisation(
  model: LlamaModel,
  tokenizer: Tokenizer,
  data: { train: readonly Example[]; validation: readonly Example[] },
  opts: MemorisationOptions = {},
): MemorisationResult {
  const limit = opts.limit ?? 200;
  const verbatim = (examples: readonly Example[]) => {
    const picked = examples.slice(0, limit);
    if (picked.length === 0) return [];
    const answers = answerPrompts(model, tokenizer, [...picked], {
      maxNewTokens: opts.maxNewTokens,
      batchSize: opts.batchSize,
    });
    return picked.filter(
      (e, i) =>
        normalizeAnswer(answers[i]) === normalizeAnswer(e.messages[e.messages.length - 1].content),
    );
  };
  const trainHits = verbatim(data.train);
  const validationHits = verbatim(data.validation);
  const nTrain = Math.min(limit, data.train.length);
  const nValidation = Math.min(limit, data.validation.length);
  const trainRate = nTrain ? trainHits.length / nTrain : 0;
  const validationRate = nValidation ? validationHits.length / nValidation : 0;
  const gap = trainRate - validationRate;
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const summary =
    `The model reproduces ${pct(trainRate)} of ${nTrain} training answers verbatim and ` +
    `${pct(validationRate)} of ${nValidation} validation answers. ` +
    (gap > 0.1
      ? `The gap of ${pct(gap)} means it recalls training examples better than it solves new ` +
        "ones: fewer epochs, more data or a lower rank would help."
      : "The two rates are close, so there is no sign that it memorised the training set.");
  const answer = (e: Example) => e.messages[e.messages.length - 1].content;
  return {
    counts: {
      train: nTrain,
      validation: nValidation,
      trainVerbatim: trainHits.length,
      validationVerbatim: validationHits.length,
    },
    trainRate,
    validationRate,
    gap,
    records: [...trainHits]
      .sort((a, b) => answer(b).length - answer(a).length)
      .slice(0, 50)
      .map((e) => ({ file: e.source.file, line: e.source.line, answer: answer(e) })),
    charts: { rates: { x: ["train", "validation"], y: [trainRate, validationRate] } },
    summary,
  };
}
