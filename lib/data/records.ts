// One fine-tuning record → Example: instruction pairs {instruction?, input, output} or chats
// {messages: [{role, content}]}; every mistake is reported with the record's file:line.
import { TunebookError } from "../errors.js";

export type Role = "system" | "user" | "assistant";

export interface Message {
  role: Role;
  content: string;
}

/** A training example: a chat whose last message is the assistant answer to learn. */
export interface Example {
  messages: Message[];
  /** Where the record came from: file as given and 1-based line (of the record's start). */
  source: { file: string; line: number };
}

const ROLES: readonly string[] = ["system", "user", "assistant"];
const SHAPES = 'each record needs "input" and "output", or "messages"';

/**
 * Turn a parsed record into an Example. `where` prefixes every error (e.g. "train.jsonl:7" or
 * "train.json:40: record 12").
 */
export function toExample(value: unknown, source: Example["source"], where: string): Example {
  const fail = (what: string): never => {
    throw new TunebookError(`${where}: ${what}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`expected a JSON object, got ${kind(value)}; ${SHAPES}`);
  }
  const rec = value as Record<string, unknown>;
  if ("messages" in rec) return { messages: chat(rec.messages, fail), source };

  const input = stringField(rec, "input", fail);
  const output = stringField(rec, "output", fail);
  const instruction = rec.instruction;
  if (instruction !== undefined && instruction !== null && typeof instruction !== "string") {
    fail(`field "instruction" must be a string, got ${kind(instruction)}`);
  }
  // An empty instruction column (CSV) means none; an empty input is fine after an instruction.
  const user = [instruction, input].filter((s): s is string => !!s).join("\n");
  if (user === "") fail('fields "instruction" and "input" are both empty; give the prompt');
  if (output.trim() === "") fail('field "output" is empty; give the answer or drop the record');
  return {
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: output },
    ],
    source,
  };
}

function stringField(rec: Record<string, unknown>, name: string, fail: (w: string) => never) {
  const v = rec[name];
  if (v === undefined) fail(`field "${name}" is missing; ${SHAPES}`);
  if (typeof v !== "string") fail(`field "${name}" must be a string, got ${kind(v)}`);
  return v as string;
}

function chat(value: unknown, fail: (w: string) => never): Message[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail('field "messages" must be a non-empty array of {role, content}');
  }
  const messages = (value as unknown[]).map((m, i): Message => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      fail(`messages[${i}] must be an object {role, content}, got ${kind(m)}`);
    }
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== "string" || !ROLES.includes(role)) {
      fail(`messages[${i}].role is ${JSON.stringify(role)}; use "system", "user" or "assistant"`);
    }
    if (typeof content !== "string") {
      fail(`messages[${i}].content must be a string, got ${kind(content)}`);
    }
    return { role: role as Role, content: content as string };
  });
  const last = messages[messages.length - 1];
  if (last.role !== "assistant") {
    fail(`the last message is from "${last.role}"; end each chat with the assistant's answer`);
  }
  if (!messages.some((m) => m.role === "user")) {
    fail('messages has no "user" message; add the prompt the assistant answers');
  }
  if (last.content.trim() === "") {
    fail("the assistant's answer is empty; give the answer or drop the record");
  }
  return messages;
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** Examples given in code: already-made Examples pass, plain records are checked like a file's. */
export function toExamples(values: unknown, name: string): Example[] {
  if (!Array.isArray(values)) {
    throw new TunebookError(`${name}: expected a file path or an array of records, got ${kind(values)}`);
  }
  if (values.length === 0) throw new TunebookError(`${name}: no records`);
  return values.map((v, i) => {
    const rec = v as Partial<Example>;
    const made = Array.isArray(rec?.messages) && typeof rec?.source === "object" && rec.source !== null;
    return made
      ? toExample({ messages: rec.messages }, rec.source!, `${name}[${i}]`)
      : toExample(v, { file: name, line: i + 1 }, `${name}[${i}]`);
  });
}
