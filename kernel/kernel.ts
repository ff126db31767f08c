// The kernel's answers to Jupyter requests: execute (one cell at a time, in order), completion,
// inspection, is_complete, history, kernel and comm info, interrupt and shutdown.
import { Session, TrainingRun } from "../lib/index.js";
import {
  type Cells,
  isComplete,
  isInterruption,
  type Outcome,
  typescriptVersion,
} from "./cells.js";
import { compileError, type ErrorOutput, interruptedError, thrownError } from "./error-output.js";
import { History, type HistoryRequest } from "./history.js";
import type { Outputs } from "./outputs.js";
import { type Content, type Message, PROTOCOL_VERSION } from "./wire.js";

export interface Transport {
  reply(request: Message, msgType: string, content: Content): void;
  publish(msgType: string, content: Content, parent: Message | undefined): void;
}

export interface KernelParts {
  transport: Transport;
  cells: Cells;
  outputs: Outputs;
  version: string;
  /** Closes the sockets and ends the process. */
  shutdown: (restart: boolean) => void;
  log: (line: string) => void;
}

/**
 * How long an interrupted cell may take to end by itself. A cell awaiting a run ends as soon as
 * the run stops at its step boundary; a cell awaiting anything else is let go of after this.
 */
const INTERRUPT_GRACE_MS = 300;

export class Kernel {
  private count = 0;
  private received = 0;
  /** Execute requests numbered up to this one are aborted (an earlier cell failed). */
  private abortUpTo = 0;
  private queue: Promise<void> = Promise.resolve();
  private running: { interrupted: boolean; detail: string } | undefined;
  private readonly history = new History();

  constructor(private readonly parts: KernelParts) {}

  handle(msg: Message): void {
    const c = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case "execute_request":
        this.enqueue(msg);
        return;
      case "kernel_info_request":
        return this.answer(msg, "kernel_info_reply", () => this.kernelInfo());
      case "complete_request":
        return this.answer(msg, "complete_reply", () => {
          const r = this.parts.cells.complete(String(c.code), Number(c.cursor_pos));
          return {
            status: "ok",
            matches: r.matches,
            cursor_start: r.start,
            cursor_end: r.end,
            metadata: {},
          };
        });
      case "inspect_request":
        return this.answer(msg, "inspect_reply", () => {
          const text = this.parts.cells.inspect(String(c.code), Number(c.cursor_pos));
          const data = text === undefined ? {} : { "text/plain": text };
          return { status: "ok", found: text !== undefined, data, metadata: {} };
        });
      case "is_complete_request":
        return this.answer(msg, "is_complete_reply", () => isComplete(String(c.code)));
      case "history_request":
        return this.answer(msg, "history_reply", () => ({
          status: "ok",
          history: this.history.query(c as unknown as HistoryRequest),
        }));
      case "comm_info_request":
        // No comm targets (widgets) are registered in this kernel.
        return this.answer(msg, "comm_info_reply", () => ({ status: "ok", comms: {} }));
      case "interrupt_request":
        return this.answer(msg, "interrupt_reply", () => {
          this.interrupt();
          return { status: "ok" };
        });
      case "shutdown_request": {
        const restart = c.restart === true;
        this.answer(msg, "shutdown_reply", () => ({ status: "ok", restart }));
        this.parts.shutdown(restart);
        return;
      }
      case "comm_open":
      case "comm_msg":
      case "comm_close":
        return;
      default:
        this.parts.log(`tunebook kernel: no handler for ${msg.header.msg_type}`);
    }
  }

  /**
   * The notebook's stop button (SIGINT or interrupt_request): every training run in progress
   * stops at its next step boundary, keeping its weights, and the running cell ends.
   */
  interrupt(): void {
    const stopped = this.stopRuns();
    const cell = this.running;
    if (cell === undefined) return;
    cell.interrupted = true;
    cell.detail = stopped
      .map(
        (run) =>
          `The training run stopped at step ${run.step}/${run.totalSteps}; the session keeps its ` +
          `weights and history: evaluate it, or train on with session.train().`,
      )
      .join(" ");
    setTimeout(() => {
      if (this.running === cell) this.parts.cells.interrupt();
    }, INTERRUPT_GRACE_MS);
  }

  private stopRuns(): TrainingRun[] {
    const runs = new Set(this.parts.outputs.live.active());
    for (const value of Object.values(this.parts.cells.locals)) {
      if (value instanceof TrainingRun) runs.add(value);
      if (value instanceof Session && value.run !== undefined) runs.add(value.run);
    }
    const going = [...runs].filter((r) => r.status === "running");
    for (const run of going) run.stop();
    return going;
  }

  private enqueue(msg: Message): void {
    const seq = ++this.received;
    this.queue = this.queue
      .then(() => this.execute(msg, seq))
      .catch((err: Error) =>
        this.parts.log(`tunebook kernel: execute failed: ${err.stack ?? err}`),
      );
  }

  private async execute(req: Message, seq: number): Promise<void> {
    const c = req.content as {
      code?: string;
      silent?: boolean;
      store_history?: boolean;
      stop_on_error?: boolean;
    };
    const code = c.code ?? "";
    const silent = c.silent === true;
    const store = c.store_history !== false && !silent;
    const { transport, outputs } = this.parts;
    this.status("busy", req);
    try {
      if (seq <= this.abortUpTo) {
        transport.reply(req, "execute_reply", { status: "aborted", execution_count: this.count });
        return;
      }
      if (store) this.count += 1;
      const count = this.count;
      outputs.begin(req);
      if (!silent) transport.publish("execute_input", { code, execution_count: count }, req);

      const cell = { interrupted: false, detail: "" };
      this.running = cell;
      const outcome = await this.parts.cells.run(code);
      this.running = undefined;

      const error = errorOf(outcome, cell);
      let text: string | null = null;
      if (error === undefined && outcome.status === "ok") {
        for (const w of outcome.warnings) outputs.stream("stderr", `${w}\n`);
        if (outcome.hasValue && !silent) text = outputs.show(outcome.value, { result: count }).text;
      }
      if (store) this.history.add(count, code, text);

      if (error === undefined) {
        transport.reply(req, "execute_reply", {
          status: "ok",
          execution_count: count,
          payload: [],
          user_expressions: {},
        });
        return;
      }
      outputs.error(error);
      transport.reply(req, "execute_reply", { status: "error", execution_count: count, ...error });
      if (c.stop_on_error !== false) this.abortUpTo = this.received;
    } finally {
      this.status("idle", req);
    }
  }

  /** Busy, the reply (or an error reply if answering failed), idle. */
  private answer(msg: Message, replyType: string, make: () => Content): void {
    this.status("busy", msg);
    try {
      let content: Content;
      try {
        content = make();
      } catch (err) {
        this.parts.log(
          `tunebook kernel: ${msg.header.msg_type} failed: ${(err as Error).stack ?? err}`,
        );
        content = { status: "error", ...thrownError(err) };
      }
      this.parts.transport.reply(msg, replyType, content);
    } finally {
      this.status("idle", msg);
    }
  }

  private status(state: "busy" | "idle", parent: Message): void {
    this.parts.transport.publish("status", { execution_state: state }, parent);
  }

  private kernelInfo(): Content {
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "tunebook",
      implementation_version: this.parts.version,
      language_info: {
        name: "typescript",
        version: typescriptVersion,
        mimetype: "text/typescript",
        file_extension: ".ts",
        pygments_lexer: "typescript",
        // Notebook and JupyterLab pick TypeScript highlighting from this combination.
        codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
      },
      banner:
        `TypeScript (tunebook ${this.parts.version}), tslab's TypeScript ${typescriptVersion}, ` +
        `Node ${process.version}`,
    };
  }
}

/** How a cell failed, if it did: interrupted, did not compile, or threw. */
function errorOf(
  outcome: Outcome,
  cell: { interrupted: boolean; detail: string },
): ErrorOutput | undefined {
  if (cell.interrupted) return interruptedError(cell.detail);
  if (outcome.status === "ok") return undefined;
  if (outcome.thrown.some(isInterruption)) return interruptedError(cell.detail);
  if (outcome.diagnostics.length > 0) return compileError(outcome.diagnostics);
  return thrownError(outcome.thrown[0]);
}
