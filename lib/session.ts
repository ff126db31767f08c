// The training session: one object that carries a fine-tune from goal to export, stage by stage,
// and keeps a history of everything done to it. The CLI, the kernel and the TUI all drive this.
import * as path from "node:path";
import { Dataset } from "./data/dataset.js";
import { encodeAll, type EncodeReport } from "./data/encode.js";
import { loadRecords } from "./data/load.js";
import { type Example, toExamples } from "./data/records.js";
import { splitExamples } from "./data/split.js";
import { describeBackend, initBackend } from "./engine/backend.js";
import { TunebookError } from "./errors.js";
import { TfidfBaseline } from "./eval/baseline.js";
import { type AnswerSpec, type EvalScores, perplexity, scorePredictions } from "./eval/metrics.js";
import { resolveModel } from "./model/hub.js";
import { answerPrompts, type AnswerOptions } from "./eval/answer.js";
import { LlamaModel } from "./model/llama.js";
import { type LoraConfig, resolveTargets } from "./model/lora.js";
import { Tokenizer } from "./tokens/tokenizer.js";
import { OverfitMonitor } from "./checks/overfit.js";
import { checkOptions, TOKENIZE_RULES, TRAIN_RULES } from "./train/options.js";
import type { EncodedRow } from "./train/batches.js";
import { loadCheckpoint, saveCheckpoint } from "./train/checkpoint.js";
import {
  describeEstimate, estimateTrainingMemory, formatBytes, type MemoryEstimate, memoryLimit,
  memoryLimitSetting,
} from "./train/memory.js";
import { meanLoss, TrainingRun } from "./train/run.js";
import { exportRun, type ExportOptions } from "./export/run-export.js";
import type { FixOptions, FixReport } from "./audits/fix.js";

export type Stage = "goal" | "data" | "tokens" | "train" | "evaluate" | "export";

export interface HistoryEntry {
  time: string;
  stage: Stage;
  action: string;
  details: Record<string, unknown>;
}

/** What the fine-tune is for, and what a correct answer looks like. */
export interface Goal {
  description: string;
  /** "label": answers are one of the training set's outputs; "json": a JSON object; "free". */
  answer: "label" | "json" | "free";
  /** Required keys of a JSON answer. */
  requiredKeys?: string[];
}

export interface SessionOptions {
  /** A model folder or a Hub id; default: the shipped base model. */
  baseModel?: string;
  /** Lines for the user (stage changes, summaries); default: silent. */
  log?: (line: string) => void;
}

export interface DataOptions {
  /** Training records: a .jsonl, .json or .csv file, or examples already loaded. */
  train: string | Example[];
  /** Validation records; if absent, `validationFraction` of the training records is held out. */
  validation?: string | Example[];
  validationFraction?: number;
  encoding?: "utf-8" | "latin1";
  seed?: number;
}

export interface TokenizeOptions {
  maxLength?: number;
  /** What to do with examples longer than maxLength. */
  overLength?: "drop" | "truncate" | "error";
}

export type Method = "lora" | "full" | "freeze";

export interface TrainOptions {
  method?: Method;
  lora?: Partial<LoraConfig>;
  /** With method "freeze": the first k decoder layers (and the embeddings) stay fixed. */
  freezeLayers?: number;
  epochs?: number;
  batchSize?: number;
  gradientAccumulation?: number;
  learningRate?: number;
  /** Warmup as a share of all steps. */
  warmupRatio?: number;
  minLearningRateRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  evalEvery?: number;
  maxSteps?: number;
  seed?: number;
  /** Folder for checkpoints that `run.checkpoint()` writes. */
  checkpointDir?: string;
  /** Continue from a checkpoint folder written by an earlier run. */
  resumeFrom?: string;
  /**
   * Stop when validation loss has risen `patience` evaluations in a row, and put back the
   * weights of the best one. Without it, the rise is only a warning in the history.
   */
  earlyStopping?: { patience?: number; minDelta?: number };
}

export interface EvaluateOptions {
  /** A name for this evaluation in reports, e.g. "before" or "after". */
  label?: string;
  /** Evaluate n validation examples spread evenly over the set (default: all). */
  limit?: number;
  maxNewTokens?: number;
  batchSize?: number;
}

export interface EvalReport extends EvalScores {
  label: string;
  validation_loss: number;
  perplexity: number;
  /** A few predictions, for a quick look. */
  samples: { input: string; reference: string; prediction: string }[];
  seconds: number;
}

export const DEFAULT_BASE_MODEL = fileURLPathToRepo("models/tunebook-base");

const DEFAULT_LORA: LoraConfig = {
  r: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
};

export class Session {
  readonly history: HistoryEntry[] = [];
  goal: Goal | undefined;
  /** The training and validation sets, once loaded. */
  data: { train: Dataset; validation: Dataset } | undefined;
  tokenReport: { train: EncodeReport; validation: EncodeReport } | undefined;
  run: TrainingRun | undefined;
  method: { method: Method; lora?: LoraConfig; freezeLayers?: number } | undefined;
  readonly evaluations: EvalReport[] = [];
  baseline: EvalScores | undefined;
  /** The overfitting monitor of the latest run: train/validation gap, warnings, early stop. */
  overfit: OverfitMonitor | undefined;
  /** The files the data came from, for run.json. */
  dataFiles: { train: string | null; validation: string | null } | undefined;

  private encoded: { train: EncodedRow[]; validation: EncodedRow[] } | undefined;
  private readonly log: (line: string) => void;

  private constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    readonly baseModel: string,
    opts: SessionOptions,
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  /** Starts the backend and loads the base model and its tokenizer. */
  static async open(opts: SessionOptions = {}): Promise<Session> {
    await initBackend();
    memoryLimitSetting(); // a bad TUNEBOOK_MEMORY_LIMIT_MB is reported now, not after loading

    const name = opts.baseModel ?? DEFAULT_BASE_MODEL;
    const dir = await resolveModel(name);
    const [model, tokenizer] = await Promise.all([LlamaModel.load(dir), Tokenizer.load(dir)]);
    const session = new Session(model, tokenizer, name, opts);
    session.record("goal", "open", {
      baseModel: name,
      parameters: model.numParameters(),
      backend: describeBackend(),
    });
    session.log(`session | ${describeBackend()} | base model ${name}`);
    return session;
  }

  /** States what the fine-tune is for; it decides how answers are scored. */
  setGoal(goal: Goal): this {
    this.goal = goal;
    this.record("goal", "set goal", { ...goal });
    return this;
  }

  /** Loads training and validation records (files are checked line by line). */
  loadData(opts: DataOptions): { train: Dataset; validation: Dataset } {
    if (this.runGoing()) {
      throw new TunebookError("a run is training on the current data; stop it before loading new data");
    }
    const read = (src: string | Example[], name: string) =>
      typeof src === "string" ? loadRecords(src, { encoding: opts.encoding }) : toExamples(src, name);
    let train = read(opts.train, "train");
    let validation: Example[];
    if (opts.validation !== undefined) {
      validation = read(opts.validation, "validation");
    } else {
      const split = splitExamples(train, {
        validationFraction: opts.validationFraction ?? 0.1,
        seed: opts.seed ?? 0,
      });
      train = split.train;
      validation = split.validation;
    }
    this.data = { train: new Dataset(train), validation: new Dataset(validation) };
    this.dataFiles = {
      train: typeof opts.train === "string" ? path.resolve(opts.train) : null,
      validation: typeof opts.validation === "string" ? path.resolve(opts.validation) : null,
    };
    this.encoded = undefined;
    this.record("data", "load data", {
      train: typeof opts.train === "string" ? opts.train : "(examples)",
      validation: typeof opts.validation === "string" ? opts.validation : "(held out)",
      trainExamples: train.length,
      validationExamples: validation.length,
    });
    this.log(`data | ${train.length} training, ${validation.length} validation examples`);
    return this.data;
  }

  /**
   * Applies data-quality remedies to the training set (with `dropOverlapWith: "validation"`,
   * also drops training records that overlap the validation set) and records them in history.
   */
  fixData(remedies: Omit<FixOptions, "dropOverlapWith"> & { dropOverlapWith?: "validation" }): FixReport {
    const data = this.requireData();
    const { dataset, report } = data.train.fix(
      { ...remedies, dropOverlapWith: remedies.dropOverlapWith ? data.validation.examples : undefined },
      { tokenizer: this.tokenizer, maxTokens: this.model.config.maxPositions },
    );
    this.data = { train: dataset, validation: data.validation };
    this.encoded = undefined;
    this.record("data", "fix data", {
      remedies: report.remedies,
      before: report.before,
      after: report.after,
      removed: report.removed.length,
      redacted: report.redacted.length,
    });
    this.log(`data | fix: ${report.removed.length} removed, ${report.redacted.length} redacted, ` +
      `${report.after} training examples left`);
    return report;
  }

  /** Encodes both splits with the chat template and a loss mask over the answers. */
  tokenize(opts: TokenizeOptions = {}): { train: EncodeReport; validation: EncodeReport } {
    const { train, validation } = this.requireData();
    checkOptions(opts, TOKENIZE_RULES, "session.tokenize", "");
    const maxLength = opts.maxLength ?? this.model.config.maxPositions;
    const overLength = opts.overLength ?? "drop";
    const t = encodeAll(this.tokenizer, train.examples, { maxLength, overLength });
    const v = encodeAll(this.tokenizer, validation.examples, { maxLength, overLength });
    this.encoded = { train: t.rows, validation: v.rows };
    this.tokenReport = { train: t.report, validation: v.report };
    this.record("tokens", "tokenize", { maxLength, overLength, train: t.report, validation: v.report });
    this.log(
      `tokens | train ${t.report.count} examples, mean ${t.report.lengths.mean.toFixed(1)} ` +
        `tokens, ${t.report.tooLong} over ${maxLength} (${overLength})`,
    );
    return this.tokenReport;
  }

  /**
   * Starts training and returns the run handle at once: await it for the result, listen to its
   * events, or pause, resume, stop and retune it from anywhere.
   */
  train(opts: TrainOptions = {}): TrainingRun {
    if (this.runGoing()) {
      throw new TunebookError("a run is still going; stop it (run.stop()) before starting another");
    }
    checkOptions(opts, TRAIN_RULES, "session.train", "");
    this.requireData();
    if (this.encoded === undefined) this.tokenize();
    const encoded = this.encoded!;
    const method = opts.method ?? "lora";
    this.prepareMethod(method, opts);
    const params = this.model.trainableVariables({ method, freezeLayers: opts.freezeLayers });
    this.checkMemory(encoded.train, opts.batchSize ?? 32);
    const checkpointDir = opts.checkpointDir ?? "checkpoints";
    const resumeFrom = opts.resumeFrom;

    const run = new TrainingRun({
      model: this.model,
      params,
      train: encoded.train,
      validation: encoded.validation,
      options: {
        epochs: opts.epochs ?? 1,
        batchSize: opts.batchSize ?? 32,
        gradientAccumulation: opts.gradientAccumulation ?? 1,
        learningRate: opts.learningRate ?? (method === "lora" ? 2e-3 : 5e-4),
        minLearningRateRatio: opts.minLearningRateRatio ?? 0.1,
        weightDecay: opts.weightDecay ?? 0,
        maxGradNorm: opts.maxGradNorm ?? 1,
        evalEvery: opts.evalEvery ?? 0,
        maxSteps: opts.maxSteps ?? 0,
        warmupRatio: opts.warmupRatio ?? 0.05,
        seed: opts.seed ?? 0,
        padId: this.tokenizer.padId,
      },
      restore:
        resumeFrom === undefined
          ? undefined
          : async () => {
              const loaded = await loadCheckpoint(resumeFrom, params);
              this.record("train", "resume", { from: resumeFrom, step: loaded.info.loop.step });
              return { optimizer: loaded.optimizerState, loop: loaded.info.loop };
            },
      saveCheckpoint: async (state, optimizer) => {
        const dir = path.join(checkpointDir, `step-${state.step}`);
        await saveCheckpoint(dir, params, optimizer, { method: { ...this.method }, loop: state });
        return dir;
      },
    });
    run.on("change", (c) => this.record("train", c.action, { step: c.step, ...c.details }));
    run.on("eval", (e) => this.record("train", "validation loss", { ...e }));
    run.on("end", (r) => this.record("train", "end", { ...r }));
    this.overfit = OverfitMonitor.attach(run, {
      patience: opts.earlyStopping?.patience ?? 3,
      minDelta: opts.earlyStopping?.minDelta ?? 0,
      earlyStop: opts.earlyStopping !== undefined,
      params: opts.earlyStopping !== undefined ? params : undefined,
      onWarning: (w) => {
        this.record("train", "overfitting warning", { ...w });
        this.log(`train | warning: ${w.message}`);
      },
    });
    this.run = run;
    this.record("train", "start", {
      ...this.method,
      epochs: opts.epochs ?? 1,
      batchSize: opts.batchSize ?? 32,
      totalSteps: run.totalSteps,
    });
    return run;
  }

  /** Generates answers for the validation prompts and scores them. */
  async evaluate(opts: EvaluateOptions = {}): Promise<EvalReport> {
    const started = Date.now();
    const { validation } = this.requireData();
    const examples = spread(validation.examples, opts.limit);
    const spec = this.answerSpec();
    const answers = this.answer(examples, opts);
    const scores = scorePredictions(
      examples.map((e, i) => ({
        prediction: answers[i],
        reference: lastAnswer(e),
        input: promptText(e),
      })),
      spec,
    );
    if (this.encoded === undefined) this.tokenize();
    const rows = spread(this.encoded!.validation, opts.limit);
    const loss = meanLoss(this.model, rows, 32, this.tokenizer.padId);
    const report: EvalReport = {
      label: opts.label ?? `evaluation ${this.evaluations.length + 1}`,
      ...scores,
      validation_loss: loss,
      perplexity: perplexity(loss),
      samples: examples.slice(0, 5).map((e, i) => ({
        input: promptText(e),
        reference: lastAnswer(e),
        prediction: answers[i],
      })),
      seconds: (Date.now() - started) / 1000,
    };
    this.evaluations.push(report);
    this.record("evaluate", "evaluate", {
      label: report.label,
      n: report.n,
      accuracy: report.accuracy,
      format_consistency: report.format_consistency,
      hallucination_rate: report.hallucination_rate,
      validation_loss: loss,
    });
    this.log(
      `evaluate ${report.label} | n ${report.n} | accuracy ${report.accuracy.toFixed(3)} | ` +
        `hallucination ${fmt(report.hallucination_rate)} | val loss ${loss.toFixed(3)} | ` +
        `${report.seconds.toFixed(0)} s`,
    );
    return report;
  }

  /** The retrieval baseline: TF-IDF class centroids over the training set. */
  evaluateBaseline(opts: { limit?: number } = {}): EvalScores {
    const { train, validation } = this.requireData();
    const baseline = TfidfBaseline.fit(
      train.examples.map((e) => ({ input: promptText(e), output: lastAnswer(e) })),
    );
    const examples = spread(validation.examples, opts.limit);
    this.baseline = scorePredictions(
      examples.map((e) => ({
        prediction: baseline.predict(promptText(e)),
        reference: lastAnswer(e),
        input: promptText(e),
      })),
      this.answerSpec(),
    );
    this.record("evaluate", "retrieval baseline", {
      n: this.baseline.n,
      accuracy: this.baseline.accuracy,
    });
    this.log(`evaluate baseline (TF-IDF class centroid) | accuracy ${this.baseline.accuracy.toFixed(3)}`);
    return this.baseline;
  }

  /** Greedy answers to the given examples' prompts (their last message is left out). */
  answer(examples: Example[], opts: AnswerOptions = {}): string[] {
    return answerPrompts(this.model, this.tokenizer, examples, {
      maxNewTokens: opts.maxNewTokens ?? this.defaultAnswerLength(),
      batchSize: opts.batchSize,
    });
  }

  /** Writes the run folder: adapter (PEFT format) or weights, run.json, metrics and report. */
  async export(dir: string, opts: ExportOptions = {}): Promise<void> {
    await exportRun(this, dir, opts);
    this.record("export", "export", { dir });
    this.log(`export | ${dir}`);
  }

  /**
   * Estimates the memory of a step on the longest rows before training starts; logs it, and
   * warns when it is more than the backend can hold.
   */
  private checkMemory(rows: EncodedRow[], batchSize: number): MemoryEstimate {
    let sequence = 1;
    let trained = 1;
    for (const r of rows) {
      sequence = Math.max(sequence, r.ids.length - 1);
      trained = Math.max(trained, r.lossMask.reduce((n, x) => n + x, 0));
    }
    const m = this.method!;
    const estimate = estimateTrainingMemory(this.model.config, {
      method: m.method,
      freezeLayers: m.freezeLayers,
      lora: m.lora,
      batchSize: Math.min(batchSize, rows.length),
      sequence,
      trainedPerRow: trained,
    });
    const limit = memoryLimit();
    this.record("train", "memory estimate", { ...estimate, limit: limit.bytes });
    this.log(`train | memory per step: ${describeEstimate(estimate)}`);
    const needs = `this run needs about ${formatBytes(estimate.total)} per step`;
    // The estimate is within 20 % of what a step takes: well past a hard limit, the run would
    // only fail some way in, so it does not start.
    if (limit.hard && estimate.total > 1.25 * limit.bytes) {
      throw new TunebookError(
        `${needs}, far more than ${limit.what}; lower batchSize or maxLength`,
      );
    }
    if (estimate.total > limit.bytes) {
      const message = `${needs}, more than ${limit.what}; lower batchSize or maxLength`;
      this.record("train", "memory warning", { message });
      this.log(`train | warning: ${message}`);
    }
    return estimate;
  }

  /** Folds the LoRA adapter into the base weights (W += B A · scale) and removes it. */
  mergeAdapter(): void {
    this.requireNoRun("merge the adapter");
    const lora = this.model.loraConfig;
    if (lora === null) throw new TunebookError("the model carries no LoRA adapter to merge");
    this.model.mergeLora();
    this.record("train", "merge adapter", { ...lora });
    this.log(`train | adapter (r ${lora.r}) merged into the base weights`);
  }

  /** Removes the LoRA adapter without keeping what it learned. */
  dropAdapter(): void {
    this.requireNoRun("drop the adapter");
    const lora = this.model.loraConfig;
    if (lora === null) throw new TunebookError("the model carries no LoRA adapter to drop");
    this.model.removeLora();
    this.record("train", "drop adapter", { ...lora });
    this.log(`train | adapter (r ${lora.r}) dropped`);
  }

  private requireNoRun(what: string): void {
    if (this.runGoing()) {
      throw new TunebookError(`a run is still going; stop it (run.stop()) before you ${what}`);
    }
  }

  /** Whether the latest run is still training (running or paused). */
  private runGoing(): boolean {
    return this.run?.status === "running" || this.run?.status === "paused";
  }

  private prepareMethod(method: Method, opts: TrainOptions): void {
    if (method === "lora") {
      const current = this.model.loraConfig;
      if (current === null) {
        const cfg: LoraConfig = { ...DEFAULT_LORA, ...opts.lora };
        this.model.addLora(cfg);
      } else if (opts.lora !== undefined && !sameAdapter(current, { ...current, ...opts.lora })) {
        throw new TunebookError(
          `the model already carries a LoRA adapter (r ${current.r}, alpha ${current.alpha}); ` +
            "train it on without the lora option, or call session.mergeAdapter() or " +
            "session.dropAdapter() first",
        );
      }
      this.method = { method, lora: this.model.loraConfig ?? undefined };
    } else {
      if (this.model.lora.size > 0) {
        throw new TunebookError(
          "the model carries a LoRA adapter; call session.mergeAdapter() (or " +
            `session.dropAdapter()) before "${method}" training`,
        );
      }
      this.method = { method, freezeLayers: opts.freezeLayers };
    }
  }

  /**
   * The label set of a label task: every answer in the training and validation data. A
   * validation label the training set lacks stays in the set, so it counts as a miss, not as
   * a hallucination.
   */
  labels(): string[] {
    const { train, validation } = this.requireData();
    const seen = new Set(train.labels().map((l) => l.label));
    for (const l of validation.labels()) seen.add(l.label);
    return [...seen];
  }

  private answerSpec(): AnswerSpec {
    const answer = this.goal?.answer ?? "label";
    if (answer === "label") return { kind: "label", labels: this.labels() };
    if (answer === "json") return { kind: "json", requiredKeys: this.goal?.requiredKeys };
    return { kind: "free" };
  }

  private defaultAnswerLength(): number {
    const { train } = this.requireData();
    let longest = 0;
    for (const e of train.examples.slice(0, 2000)) {
      longest = Math.max(longest, this.tokenizer.encode(lastAnswer(e)).length);
    }
    return longest + 2;
  }

  private requireData(): { train: Dataset; validation: Dataset } {
    if (this.data === undefined) {
      throw new TunebookError('no data yet: call session.loadData({ train: "file.jsonl" }) first');
    }
    return this.data;
  }

  private record(stage: Stage, action: string, details: Record<string, unknown>): void {
    this.history.push({ time: new Date().toISOString(), stage, action, details });
  }
}

/**
 * `limit` items spread evenly over the list (all of it without a limit): data files are often
 * grouped by label, so the first n would cover a few classes only.
 */
function spread<T>(items: readonly T[], limit: number | undefined): T[] {
  if (limit === undefined || limit >= items.length) return items.slice();
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new TunebookError(`limit must be a whole number >= 1, got ${limit}`);
  }
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]);
}

function lastAnswer(e: Example): string {
  return e.messages[e.messages.length - 1].content;
}

function promptText(e: Example): string {
  return e.messages
    .slice(0, -1)
    .map((m) => m.content)
    .join("\n");
}

function fmt(x: number | null): string {
  return x === null ? "n/a" : x.toFixed(3);
}

function fileURLPathToRepo(rel: string): string {
  // lib/ and dist/lib/ both sit under the repository root.
  const here = path.dirname(new URL(import.meta.url).pathname);
  const root = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, "../..") : path.resolve(here, "..");
  return path.join(root, rel);
}

/** Whether two adapter settings describe the same adapter. */
function sameAdapter(a: LoraConfig, b: LoraConfig): boolean {
  const targets = (c: LoraConfig) => resolveTargets(c).join(",");
  return a.r === b.r && a.alpha === b.alpha && a.dropout === b.dropout &&
    targets(a) === targets(b) && (a.useRslora ?? false) === (b.useRslora ?? false);
}
