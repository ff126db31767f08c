// Where cells' output goes: streams, rich displays, results, live updates and clears, each an
// IOPub message whose parent is the execute request running now (or the last one).
import { TrainingRun } from "../lib/index.js";
import type { Content, Message } from "./wire.js";
import { plotlyLoaderHtml } from "./chart.js";
import { type Bundle, hasChart, mimeBundle } from "./display.js";
import type { ErrorOutput } from "./error-output.js";
import { LiveRuns } from "./live.js";

export type Publish = (msgType: string, content: Content, parent: Message | undefined) => void;

export class Outputs {
  /** The kernel's outputs, for the notebook API in api.ts. */
  static current: Outputs | undefined;

  readonly live: LiveRuns;
  private parent: Message | undefined;
  private plotlySent = false;

  constructor(private readonly publish: Publish) {
    this.live = new LiveRuns((id, run) => this.update(id, run));
    Outputs.current = this;
  }

  /** Output from now on belongs to `request`, also output that comes after it has finished. */
  begin(request: Message): void {
    this.parent = request;
  }

  stream(name: "stdout" | "stderr", text: string): void {
    if (text !== "") this.send("stream", { name, text });
  }

  /**
   * Shows a value: as the execute_result of the cell numbered `result`, or as display_data.
   * A training run gets a display id and redraws itself while it trains. Returns the display
   * id and the text/plain form.
   */
  show(value: unknown, opts: { result?: number; id?: string } = {}): { id?: string; text: string } {
    const bundle = mimeBundle(value);
    const id = opts.id ?? (value instanceof TrainingRun ? this.live.watch(value) : undefined);
    this.loadPlotly(bundle);
    const content: Content = { data: bundle, metadata: {} };
    if (id !== undefined) content.transient = { display_id: id };
    if (opts.result === undefined) this.send("display_data", content);
    else this.send("execute_result", { execution_count: opts.result, ...content });
    return { id, text: String(bundle["text/plain"] ?? "") };
  }

  /** Redraws every output shown with display id `id`. */
  update(id: string, value: unknown): void {
    const bundle = mimeBundle(value);
    this.loadPlotly(bundle);
    this.send("update_display_data", { data: bundle, metadata: {}, transient: { display_id: id } });
  }

  /** Clears the cell's output; with `wait`, only when the next output arrives. */
  clear(wait: boolean): void {
    this.send("clear_output", { wait });
  }

  error(e: ErrorOutput): void {
    this.send("error", { ...e });
  }

  /** A display message as tslab's own display API builds it. */
  raw(content: Content, update: boolean): void {
    this.send(update ? "update_display_data" : "display_data", content);
  }

  /** Sends plotly.js once, before the first chart, for the charts' HTML fallback. */
  private loadPlotly(bundle: Bundle): void {
    if (this.plotlySent || !hasChart(bundle)) return;
    this.plotlySent = true;
    this.send("display_data", { data: { "text/html": plotlyLoaderHtml() }, metadata: {} });
  }

  private send(msgType: string, content: Content): void {
    this.publish(msgType, content, this.parent);
  }
}

/** Sends process.stdout and process.stderr writes to the cells' output; returns the originals. */
export function captureStreams(outputs: Outputs): { stdout: Writer; stderr: Writer } {
  const originals = {
    stdout: process.stdout.write.bind(process.stdout),
    stderr: process.stderr.write.bind(process.stderr),
  };
  const decoder = new TextDecoder();
  for (const name of ["stdout", "stderr"] as const) {
    process[name].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      outputs.stream(name, typeof chunk === "string" ? chunk : decoder.decode(chunk));
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  }
  return originals;
}

export type Writer = (text: string) => boolean;
