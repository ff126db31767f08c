// A line chart as rows of coloured text runs. asciichart draws each line on the same scale; the
// lines are laid over the first one (which brings the axis), and the colours are left to Ink.
import * as asciichart from "asciichart";

/** A stretch of one chart row in one style. */
export interface TextRun {
  text: string;
  color?: string;
  dim?: boolean;
}

export interface PlotSeries {
  values: readonly number[];
  /** The column of the first value (0: at the axis). */
  start?: number;
  color: string;
}

export interface PlotOptions {
  /** Rows the chart takes. */
  height: number;
  /** Axis label for a value; padded or cut to LABEL_WIDTH. */
  format: (value: number) => string;
}

export const LABEL_WIDTH = 8;
/** Columns before the first value: the label, a gap and the axis. */
export const AXIS_WIDTH = LABEL_WIDTH + 2;

/** Marks a line of one value, which asciichart would hide in the axis. */
const POINT = "◆";

interface Cell {
  char: string;
  color?: string;
}

/** `opts.height` rows of runs, later series drawn over earlier ones; empty if nothing to draw. */
export function plotRows(series: readonly PlotSeries[], opts: PlotOptions): TextRun[][] {
  const [base, ...over] = series;
  if (base === undefined || base.values.length === 0 || opts.height < 1) return [];
  const all = series.flatMap((s) => [...s.values]);
  const scale = { min: Math.min(...all), max: Math.max(...all), height: opts.height - 1 };
  const format = (x: number) => opts.format(x).padStart(LABEL_WIDTH).slice(-LABEL_WIDTH);
  const draw = (values: readonly number[]) =>
    asciichart.plot([...values], { ...scale, format }).split("\n").map((line) => [...line]);

  // asciichart's row count can come out one above the height asked for (rounding).
  let lines = draw(base.values);
  if (lines.length > opts.height && scale.height > 0) {
    scale.height -= 1;
    lines = draw(base.values);
  }
  const width = Math.max(...series.map((s) => AXIS_WIDTH + (s.start ?? 0) + s.values.length));
  const grid: Cell[][] = lines.map((line) =>
    Array.from({ length: width }, (_, c) => ({
      char: line[c] ?? " ",
      color: c < AXIS_WIDTH || line[c] === undefined ? undefined : base.color,
    })),
  );

  for (const s of over) {
    const start = s.start ?? 0;
    if (s.values.length === 1) {
      const row = grid[rowOf(s.values[0], scale)];
      if (row !== undefined) row[AXIS_WIDTH + start - 1] = { char: POINT, color: s.color };
      continue;
    }
    draw(s.values).forEach((line, r) => {
      for (let c = AXIS_WIDTH; c < line.length; c++) {
        const cell = grid[r]?.[c + start];
        if (line[c] === " " || cell === undefined) continue;
        grid[r][c + start] = { char: line[c], color: s.color };
      }
    });
  }

  const rows = grid.map(toRuns);
  while (rows.length < opts.height) rows.push([{ text: "" }]);
  return rows;
}

/** The row asciichart draws a value on, for a chart of this scale. */
function rowOf(value: number, s: { min: number; max: number; height: number }): number {
  const range = Math.abs(s.max - s.min);
  const ratio = range !== 0 ? s.height / range : 1;
  const low = Math.round(s.min * ratio);
  const rows = Math.abs(Math.round(s.max * ratio) - low);
  return rows - (Math.round(value * ratio) - low);
}

/** Joins neighbouring cells of one colour; the axis and its labels are dim. */
function toRuns(row: Cell[]): TextRun[] {
  const runs: TextRun[] = [];
  row.forEach((cell, c) => {
    const dim = c < AXIS_WIDTH && cell.color === undefined;
    const last = runs.at(-1);
    if (last !== undefined && last.color === cell.color && Boolean(last.dim) === dim) {
      last.text += cell.char;
    } else {
      runs.push(dim ? { text: cell.char, dim } : { text: cell.char, color: cell.color });
    }
  });
  return runs;
}
