// What the audits read: each record as prompt and answer text with its file and line, read
// leniently so that a bad line becomes a finding instead of stopping the audit.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { TunebookError } from "../errors.js";
import { loadRecords } from "../data/load.js";
import type { Example } from "../data/records.js";
import { firstInvalidUtf8 } from "../data/utf8.js";

/** Where a record came from: the file as given and its 1-based line. */
export interface RecordRef {
  file: string;
  line: number;
}

export interface AuditRecord extends RecordRef {
  /** Everything before the answer, one message a line. */
  input: string;
  /** The answer (last assistant message). */
  output: string;
}

/** A line that could not be read as a record, with why. */
export interface UnreadableLine extends RecordRef {
  problem: string;
}

export interface AuditData {
  records: AuditRecord[];
  /** Lines whose bytes are not valid UTF-8. */
  undecodable: UnreadableLine[];
  /** Lines that are not JSON objects. */
  unparsable: UnreadableLine[];
}

/** Examples (as loaded for training) → audit records. */
export function fromExamples(examples: readonly Example[]): AuditRecord[] {
  return examples.map((e) => ({
    file: e.source.file,
    line: e.source.line,
    input: e.messages
      .slice(0, -1)
      .map((m) => m.content)
      .join("\n"),
    output: e.messages[e.messages.length - 1].content,
  }));
}

/**
 * Reads a data file for auditing. JSONL is read line by line and never stops on a bad line;
 * JSON and CSV go through the strict loader, since one bad byte breaks the whole document.
 */
export function readAuditData(file: string): AuditData {
  if (extname(file).toLowerCase() !== ".jsonl") {
    return { records: fromExamples(loadRecords(file)), undecodable: [], unparsable: [] };
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TunebookError(
      `${file}: ${code === "ENOENT" ? "file not found" : `cannot read (${code})`}`,
    );
  }
  const data: AuditData = { records: [], undecodable: [], unparsable: [] };
  const strict = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const raw = bytes.subarray(start, end);
    start = end + 1;
    const bad = firstInvalidUtf8(raw);
    if (bad >= 0) {
      const hex = raw[bad].toString(16).toUpperCase().padStart(2, "0");
      data.undecodable.push({
        file,
        line,
        problem: `invalid UTF-8 byte 0x${hex} at column ${bad + 1}`,
      });
      continue;
    }
    const text = strict
      .decode(raw)
      .replace(/^\uFEFF/, "")
      .trim();
    if (text === "") continue;
    const record = parseLine(text, file, line);
    if ("problem" in record) data.unparsable.push(record);
    else data.records.push(record);
  }
  return data;
}

/** One JSONL line → record; missing fields become empty text, which the quality audit flags. */
function parseLine(text: string, file: string, line: number): AuditRecord | UnreadableLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { file, line, problem: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { file, line, problem: "not a JSON object" };
  }
  const rec = value as Record<string, unknown>;
  if (Array.isArray(rec.messages)) {
    const msgs = rec.messages.map((m) => (m as Record<string, unknown>) ?? {});
    const last = msgs.at(-1);
    return {
      file,
      line,
      input: msgs
        .slice(0, -1)
        .map((m) => str(m.content))
        .join("\n"),
      output: str(last?.content),
    };
  }
  const input = [str(rec.instruction), str(rec.input)].filter((s) => s !== "").join("\n");
  return { file, line, input, output: str(rec.output) };
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return JSON.stringify(v);
}

/** Lower-case, NFKC, punctuation dropped, whitespace collapsed: the text duplicates compare. */
export function normalizeText(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Words of the normalised text. */
export function words(text: string): string[] {
  const n = normalizeText(text);
  return n === "" ? [] : n.split(" ");
}

export function ref(r: RecordRef): RecordRef {
  return { file: r.file, line: r.line };
}
