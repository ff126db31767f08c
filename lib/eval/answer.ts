// Greedy answers for chat examples: the prompt (every message but the last) rendered with the
// chat template, then batched generation that stops at the end-of-sequence token.
import type { Example } from "../data/records.js";
import type { LlamaModel } from "../model/llama.js";
import { generate } from "../model/generate.js";
import type { Tokenizer } from "../tokens/tokenizer.js";

export interface AnswerOptions {
  /** Default: enough for the longest answer in `examples`, plus two. */
  maxNewTokens?: number;
  batchSize?: number;
}

export function answerPrompts(
  model: LlamaModel,
  tokenizer: Tokenizer,
  examples: Example[],
  opts: AnswerOptions,
): string[] {
  const batchSize = opts.batchSize ?? 64;
  const maxNewTokens =
    opts.maxNewTokens ??
    Math.max(...examples.map((e) => tokenizer.encode(e.messages[e.messages.length - 1].content).length)) + 2;
  const prompts = examples.map((e) =>
    tokenizer.encode(tokenizer.applyChatTemplate(e.messages.slice(0, -1), { addGenerationPrompt: true })),
  );
  // Similar lengths together, so little padding is computed.
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length);
  const answers: string[] = new Array(examples.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.slice(i, i + batchSize);
    const out = generate(
      model,
      chunk.map((j) => prompts[j]),
      { maxNewTokens, greedy: true, eosTokenId: tokenizer.eosId },
    );
    chunk.forEach((j, k) => {
      answers[j] = tokenizer.decode(out[k], { skipSpecialTokens: true }).trim();
    });
  }
  return answers;
}
