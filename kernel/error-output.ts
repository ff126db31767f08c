// A cell's failure as Jupyter shows it: ename, evalue and a traceback of lines. User mistakes
// (TunebookError) get one line and no stack, as in the CLI; compile errors list each diagnostic.

export interface ErrorOutput {
  ename: string;
  evalue: string;
  traceback: string[];
}

const RED = "\u001b[0;31m";
const RESET = "\u001b[0m";

/** What a thrown value becomes; frames inside the kernel and Node's internals are left out. */
export function thrownError(value: unknown): ErrorOutput {
  if (!(value instanceof Error)) {
    const evalue = typeof value === "string" ? value : String(value);
    return { ename: "Error", evalue, traceback: [headline("Error", evalue)] };
  }
  const ename = value.name || value.constructor?.name || "Error";
  const evalue = value.message;
  if (ename === "TunebookError") return { ename, evalue, traceback: [headline(ename, evalue)] };
  const frames = (value.stack ?? "")
    .split("\n")
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !/\(node:|[/\\]tslab[/\\]dist[/\\]|[/\\]dist[/\\]kernel[/\\]/.test(l));
  return { ename, evalue, traceback: [headline(ename, evalue), ...frames] };
}

/** Type errors from tslab's converter, each "line:column - message" (1-based). */
export function compileError(diagnostics: string[]): ErrorOutput {
  const evalue = diagnostics[0] ?? "the cell did not compile";
  return {
    ename: "CompileError",
    evalue,
    traceback: [
      headline("CompileError", `${diagnostics.length} problem(s) in this cell`),
      ...diagnostics,
    ],
  };
}

/** The error an interrupted cell ends with; `detail` says what happened to training runs. */
export function interruptedError(detail: string): ErrorOutput {
  const evalue = `the cell was interrupted. ${detail}`.trim();
  return { ename: "Interrupted", evalue, traceback: [headline("Interrupted", evalue)] };
}

function headline(ename: string, evalue: string): string {
  return `${RED}${ename}${RESET}: ${evalue}`;
}
