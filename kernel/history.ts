// The inputs (and text outputs) of this kernel's cells, for history_request: the last n, a range
// of execution counts, or a glob search, as IPython answers them. Kept in memory, one session.

export interface HistoryRequest {
  hist_access_type: "tail" | "range" | "search";
  output?: boolean;
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}

/** [session, execution count, input] or, with output, [session, count, [input, output]]. */
export type HistoryItem = [number, number, string | [string, string | null]];

interface Entry {
  line: number;
  input: string;
  output: string | null;
}

export class History {
  /** This kernel's session number; 0 and negative numbers in requests count back from it. */
  readonly session = 1;
  private readonly entries: Entry[] = [];

  add(line: number, input: string, output: string | null): void {
    this.entries.push({ line, input, output });
  }

  query(req: HistoryRequest): HistoryItem[] {
    return this.select(req).map((e) => [
      this.session,
      e.line,
      req.output === true ? [e.input, e.output] : e.input,
    ]);
  }

  private select(req: HistoryRequest): Entry[] {
    const n = req.n ?? 10;
    if (req.hist_access_type === "tail") return n > 0 ? this.entries.slice(-n) : [];
    if (req.hist_access_type === "range") {
      const session = req.session ?? 0;
      if (session > 0 && session !== this.session) return [];
      const start = req.start ?? 0;
      const stop = req.stop ?? Number.POSITIVE_INFINITY;
      return this.entries.filter((e) => e.line >= start && e.line < stop);
    }
    const glob = globToRegExp(req.pattern ?? "*");
    let found = this.entries.filter((e) => glob.test(e.input));
    if (req.unique === true) {
      // Keep each input's latest occurrence, in order.
      const last = new Map(found.map((e) => [e.input, e]));
      found = found.filter((e) => last.get(e.input) === e);
    }
    return req.n === undefined ? found : found.slice(-n);
  }
}

/** IPython's search pattern: `*` any run of characters, `?` one character, over the whole input. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}
