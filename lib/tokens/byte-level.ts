// The GPT-2 byte-level alphabet and split pattern shared by our BPE trainer and tokenizer.json:
// every byte maps to one printable character, so any text is covered without an unknown token.

/**
 * The GPT-2 pre-tokenizer split: contractions, letter runs, digit runs, other symbols, each with
 * at most one leading space, then whitespace runs. Same pattern @huggingface/tokenizers uses for
 * a ByteLevel pre-tokenizer with use_regex, so training sees the words encoding will see.
 */
export const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** BYTE_TO_CHAR[b] is the printable character standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  // Printable Latin-1 bytes stand for themselves; the rest are shifted to code points 256+.
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    chars.push(String.fromCharCode(printable(b) ? b : next++));
  }
  return chars;
})();
