// tunebook's public API: the training session and the parts it is built from.
export { Session, DEFAULT_BASE_MODEL } from "./session.js";
export type {
  DataOptions,
  EvalReport,
  EvaluateOptions,
  Goal,
  HistoryEntry,
  Method,
  SessionOptions,
  Stage,
  TokenizeOptions,
  TrainOptions,
} from "./session.js";
export { TrainingRun } from "./train/run.js";
export type {
  ChangeEvent,
  EvalEvent,
  LiveSettings,
  RunResult,
  RunStatus,
  StepEvent,
} from "./train/run.js";
export { Dataset } from "./data/dataset.js";
export { loadRecords } from "./data/load.js";
export type { Example, Message } from "./data/records.js";
export { LlamaModel } from "./model/llama.js";
export type { LlamaConfig } from "./model/config.js";
export type { LoraConfig } from "./model/lora.js";
export { generate } from "./model/generate.js";
export { Tokenizer } from "./tokens/tokenizer.js";
export { scorePredictions, perplexity } from "./eval/metrics.js";
export type { EvalScores } from "./eval/metrics.js";
export { TfidfBaseline } from "./eval/baseline.js";
export { openRun } from "./export/run-export.js";
export { initBackend, describeBackend } from "./engine/backend.js";
export { TunebookError } from "./errors.js";

// Checks during and after training, and audits of data and models.
export { OverfitMonitor } from "./checks/overfit.js";
export { ForgettingCheck, compareForgetting } from "./checks/forgetting.js";
export { memorisation } from "./checks/memorisation.js";
export { logLikelihoods, textPerplexity } from "./checks/likelihood.js";
export { auditQuality } from "./audits/quality.js";
export { readAuditData, fromExamples } from "./audits/records.js";
export { fixExamples } from "./audits/fix.js";
export { findPii, redactPii, auditPii, scorePii } from "./audits/pii.js";
export { loadCrowsPairs, crowsPairs } from "./audits/crows.js";
export { identityTerms } from "./audits/identity.js";
export { contamination } from "./audits/contamination.js";
export { makeCanaries, canaryExamples, canaryExposure } from "./audits/canary.js";
