// Number formats shared by the dashboard panels and the plain progress lines.
export { formatSeconds } from "../lib/cli/progress.js";

/** A learning rate or other small setting: 3.0e-3. */
export function formatRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  return x === 0 ? "0" : x.toExponential(1);
}

/** A loss: three decimals, "nan" when training has diverged. */
export function formatLoss(x: number | undefined | null): string {
  if (x === undefined || x === null) return "-";
  return Number.isFinite(x) ? x.toFixed(3) : "nan";
}

/** A count in a narrow column: 940, 15k, 1.2M. */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${+(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${+(n / 1_000_000).toFixed(1)}M`;
}

/** Cuts text to `width` characters, marking the cut with an ellipsis. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length <= width ? text : text.slice(0, Math.max(0, width - 1)) + "…";
}

/** A setting such as weight decay or max grad norm: 0, 0.01, 1, 1e-5. */
export function formatSetting(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  if (x === 0) return "0";
  return x >= 0.01 && x < 10_000 ? String(+x.toPrecision(3)) : x.toExponential(1);
}

/** Breaks text at spaces into lines of at most `width` characters (longer words are cut). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const joined = line === "" ? word : `${line} ${word}`;
    if (joined.length <= width) {
      line = joined;
      continue;
    }
    if (line !== "") lines.push(line);
    line = word;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}
