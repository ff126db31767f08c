// Terminal progress for training: a live bar on a TTY, a plain line every few percent otherwise.
import cliProgress from "cli-progress";
import type { StepEvent } from "../train/run.js";

export interface Progress {
  step(e: StepEvent): void;
  log(line: string): void;
  stop(): void;
}

export function progressFor(stage: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) return new BarProgress(stage, stream);
  return new LineProgress(stage, stream);
}

class BarProgress implements Progress {
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly stage: string,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  step(e: StepEvent): void {
    if (this.bar === undefined) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format:
            `${this.stage} [{bar}] {value}/{total} | epoch {epoch} | loss {loss} | ` +
            `lr {lr} | {tps} tok/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 20,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(e.totalSteps, 0);
    }
    this.bar.update(e.step, fields(e));
  }

  log(line: string): void {
    if (this.bar === undefined) {
      this.stream.write(line + "\n");
      return;
    }
    // Print above the bar: clear its line, write, and let the bar redraw.
    this.stream.write("\r\x1b[2K" + line + "\n");
    this.bar.render();
  }

  stop(): void {
    this.bar?.stop();
  }
}

class LineProgress implements Progress {
  private lastShown = 0;

  constructor(
    private readonly stage: string,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  step(e: StepEvent): void {
    const every = Math.max(1, Math.round(e.totalSteps / 20));
    if (e.step - this.lastShown < every && e.step !== e.totalSteps) return;
    this.lastShown = e.step;
    const f = fields(e);
    this.stream.write(
      `${this.stage} step ${e.step}/${e.totalSteps} | epoch ${f.epoch} | loss ${f.loss} | ` +
        `lr ${f.lr} | ${f.tps} tok/s | ETA ${formatSeconds(e.etaSeconds)}\n`,
    );
  }

  log(line: string): void {
    this.stream.write(line + "\n");
  }

  stop(): void {}
}

function fields(e: StepEvent) {
  return {
    epoch: e.epoch.toFixed(2),
    loss: e.loss.toFixed(4),
    lr: e.learningRate.toExponential(2),
    tps: Math.round(e.tokensPerSecond).toLocaleString(),
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}
