// Live charts: a displayed training run redraws itself in place (update_display_data) while it
// trains, at most about once a second, and at once for each change and at the end.
import { randomUUID } from "node:crypto";
import type { TrainingRun } from "../lib/index.js";

export class LiveRuns {
  private readonly ids = new WeakMap<TrainingRun, string>();
  private readonly going = new Set<TrainingRun>();

  /**
   * @param redraw sends the run's current bundle to every output showing display `id`.
   * @param intervalMs the least time between two redraws for steps and evaluations.
   */
  constructor(
    private readonly redraw: (id: string, run: TrainingRun) => void,
    private readonly intervalMs = 1000,
  ) {}

  /** The run's display id (one per run, so every output of it updates); follows it if going. */
  watch(run: TrainingRun): string {
    let id = this.ids.get(run);
    if (id === undefined) {
      id = `tunebook-run-${randomUUID()}`;
      this.ids.set(run, id);
      if (run.status === "running" || run.status === "paused") this.follow(run, id);
    }
    return id;
  }

  /** Runs shown in this kernel that have not ended. */
  active(): TrainingRun[] {
    return [...this.going];
  }

  private follow(run: TrainingRun, id: string): void {
    this.going.add(run);
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    const draw = () => {
      timer = undefined;
      last = Date.now();
      this.redraw(id, run);
    };
    const soon = () => {
      if (timer === undefined)
        timer = setTimeout(draw, Math.max(0, last + this.intervalMs - Date.now()));
    };
    const now = () => {
      clearTimeout(timer);
      draw();
    };
    const end = () => {
      now();
      run.off("step", soon).off("eval", soon).off("change", now).off("end", end);
      this.going.delete(run);
    };
    run.on("step", soon).on("eval", soon).on("change", now).on("end", end);
  }
}
