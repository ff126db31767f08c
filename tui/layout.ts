// Splits the terminal between the dashboard's panels; the frame always stays one row short of
// the screen, because a frame that fills it makes Ink clear the whole screen on every update.
export interface Layout {
  /** Too small for the panels: only the header, progress, last events and keys are shown. */
  compact: boolean;
  /** Width of the stages and hyperparameters panels, on the right and left. */
  sideWidth: number;
  /** Width of the loss chart and event log panels. */
  mainWidth: number;
  /** Rows inside the chart and stages panels. */
  topRows: number;
  /** Rows inside the hyperparameters and event log panels. */
  bottomRows: number;
}

export const MIN_COLUMNS = 64;
export const MIN_ROWS = 19;
const SIDE_WIDTH = 31;
/** Header, progress line, key line, the panels' top and bottom lines, and the spare row. */
const FIXED_ROWS = 8;

export function layout(columns: number, rows: number): Layout {
  const free = rows - FIXED_ROWS;
  const bottomRows = Math.min(12, Math.max(3, Math.round(free * 0.35)));
  return {
    compact: columns < MIN_COLUMNS || rows < MIN_ROWS,
    sideWidth: SIDE_WIDTH,
    mainWidth: columns - SIDE_WIDTH,
    topRows: free - bottomRows,
    bottomRows,
  };
}
