// Dataset: the examples of a fine-tuning run with a table view (danfojs DataFrame) for notebooks
// and the label counts that classification-style evaluations need.
import { DataFrame } from "danfojs-node";
import type { Tokenizer } from "../tokens/tokenizer.js";
import { encodeAll, encodeExample, type EncodeReport, type EncodedRow, type OverLength }
  from "./encode.js";
import { type FixOptions, type FixReport, fixExamples } from "../audits/fix.js";
import type { QualityOptions } from "../audits/quality.js";
import { loadRecords, type LoadOptions } from "./load.js";
import type { Example } from "./records.js";
import { splitExamples, type SplitOptions } from "./split.js";

export interface LabelCount {
  label: string;
  count: number;
}

export class Dataset {
  /** Token count of each full chat, filled by countTokens(); shown as the "tokens" column. */
  private tokenCounts: number[] | undefined;

  constructor(readonly examples: readonly Example[]) {}

  /** Load a JSONL, JSON or CSV file (see loadRecords). */
  static fromFile(path: string, opts: LoadOptions = {}): Dataset {
    return new Dataset(loadRecords(path, opts));
  }

  get size(): number {
    return this.examples.length;
  }

  /** Count each example's tokens with `tokenizer` so frame() can show them. */
  countTokens(tokenizer: Tokenizer): this {
    this.tokenCounts = this.examples.map(
      (ex) => encodeExample(tokenizer, ex, { maxLength: Number.MAX_SAFE_INTEGER }).ids.length,
    );
    return this;
  }

  /** Token ids and loss masks for training, with a length report (see encodeAll). */
  encode(
    tokenizer: Tokenizer,
    opts: { maxLength: number; overLength: OverLength },
  ): { rows: EncodedRow[]; report: EncodeReport } {
    return encodeAll(tokenizer, this.examples, opts);
  }

  /** Seeded train/validation split into two Datasets. */
  split(opts: SplitOptions): { train: Dataset; validation: Dataset } {
    const { train, validation } = splitExamples(this.examples, opts);
    return { train: new Dataset(train), validation: new Dataset(validation) };
  }

  /** One row per example: file, line, prompt, response, and tokens once counted. */
  frame(): DataFrame {
    const columns: Record<string, (string | number)[]> = {
      file: this.examples.map((ex) => ex.source.file),
      line: this.examples.map((ex) => ex.source.line),
      prompt: this.examples.map((ex) => promptText(ex)),
      response: this.examples.map((ex) => ex.messages[ex.messages.length - 1].content),
    };
    if (this.tokenCounts) columns.tokens = this.tokenCounts;
    return new DataFrame(columns);
  }

  /**
   * A new Dataset with the chosen remedies for data-quality findings applied (see
   * lib/audits/fix.ts); the report lists each record removed or redacted.
   */
  fix(
    remedies: FixOptions,
    opts: Omit<QualityOptions, "against"> = {},
  ): { dataset: Dataset; report: FixReport } {
    const { examples, report } = fixExamples(this.examples, remedies, opts);
    return { dataset: new Dataset(examples), report };
  }

  /** Distinct final assistant answers with how often each occurs, most frequent first. */
  labels(): LabelCount[] {
    const counts = new Map<string, number>();
    for (const ex of this.examples) {
      const label = ex.messages[ex.messages.length - 1].content;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    return [...counts]
      .map(([label, count]) => ({ label, count }))
      .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  }
}

/** Everything before the final answer, one message a line. */
function promptText(ex: Example): string {
  return ex.messages
    .slice(0, -1)
    .map((m) => m.content)
    .join("\n");
}
