// What notebooks import from "tunebook/kernel": show any value with tunebook's rich display,
// redraw it in place, clear a cell's output. It works inside the tunebook Jupyter kernel only.
import { randomUUID } from "node:crypto";
import { TunebookError } from "../lib/errors.js";
import { Outputs } from "./outputs.js";

export { MIME_METHOD, mimeBundle, type Bundle } from "./display.js";

/**
 * Shows `value` below the cell. With `id` (or `id: true` for a new one) the output can be
 * redrawn later with updateDisplay(id, ...). A training run always gets an id and redraws
 * itself as it trains. Returns the display id, if any.
 */
export function display(value: unknown, opts: { id?: string | true } = {}): string | undefined {
  const id = opts.id === true ? `tunebook-${randomUUID()}` : opts.id;
  return outputs("display").show(value, { id }).id;
}

/** Redraws every output shown with display id `id`, now showing `value`. */
export function updateDisplay(id: string, value: unknown): void {
  outputs("updateDisplay").update(id, value);
}

/** Clears this cell's output; with `wait`, only once new output arrives (no flicker). */
export function clearOutput(opts: { wait?: boolean } = {}): void {
  outputs("clearOutput").clear(opts.wait ?? false);
}

function outputs(fn: string): Outputs {
  if (Outputs.current === undefined) {
    throw new TunebookError(
      `${fn}: no Jupyter kernel here; run this in a notebook on the "TypeScript (tunebook)" kernel`,
    );
  }
  return Outputs.current;
}
