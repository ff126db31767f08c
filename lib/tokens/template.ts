// The project's special tokens and chat template. The template is terse (every template token
// costs training time) and a prompt rendered with add_generation_prompt is an exact prefix of
// the full rendering, so the loss mask is the suffix after the prompt.

/** Special tokens in id order: ids 0..6. Pad, BOS, EOS, UNK first, then the chat markers. */
export const SPECIAL_TOKENS = [
  "<pad>",
  "<s>",
  "</s>",
  "<unk>",
  "<|system|>",
  "<|user|>",
  "<|assistant|>",
] as const;

export const PAD_TOKEN = "<pad>";
export const BOS_TOKEN = "<s>";
export const EOS_TOKEN = "</s>";
export const UNK_TOKEN = "<unk>";

/**
 * `<s><|system|>…<|user|>…<|assistant|>…</s><|user|>…`, no newlines: the role markers
 * are single special tokens, so they already separate turns. An assistant turn ends with EOS, which
 * the model learns to emit. Render, then encode without adding special tokens (BOS is here).
 */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}" +
  "{% if m.role == 'system' %}<|system|>{{ m.content }}" +
  "{% elif m.role == 'user' %}<|user|>{{ m.content }}" +
  "{% else %}<|assistant|>{{ m.content }}{{ eos_token }}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
