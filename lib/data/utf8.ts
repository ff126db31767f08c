// Strict text decoding for data files: invalid UTF-8 is an error naming the byte offset, never
// silent mojibake; Latin-1 is available on explicit request.
import { TunebookError } from "../errors.js";

export type TextEncoding = "utf-8" | "latin1";

const strict = new TextDecoder("utf-8", { fatal: true });

/** Decode `bytes` read from `file`; a UTF-8 byte-order mark is dropped. */
export function decodeText(bytes: Uint8Array, file: string, encoding: TextEncoding = "utf-8") {
  if (encoding === "latin1") return Buffer.from(bytes).toString("latin1");
  try {
    return strict.decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    const at = firstInvalidUtf8(bytes);
    const line = countLines(bytes, at);
    const hex = bytes[at].toString(16).toUpperCase().padStart(2, "0");
    throw new TunebookError(
      `${file}:${line}: not valid UTF-8 (byte 0x${hex} at byte offset ${at}); ` +
        'pass encoding: "latin1" (--encoding latin1) if the file is Latin-1',
    );
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence, or -1 if all is valid. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    // Length of the sequence and the allowed range of its second byte (RFC 3629 table).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n > b.length || b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return i;
    i += n;
  }
  return -1;
}

function countLines(b: Uint8Array, end: number): number {
  let line = 1;
  for (let i = 0; i < end; i++) if (b[i] === 0x0a) line++;
  return line;
}
