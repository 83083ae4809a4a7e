// Chat templates from tokenizer_config.json / chat_template.json (llava-hf checkpoints), rendered with
// @huggingface/jinja the way transformers' apply_chat_template renders them.
import { Template } from '@huggingface/jinja';

/** A message as transformers takes it: plain text, or the llava-hf list of typed parts. */
export interface ChatMessage {
  role: string;
  content: string | ({ type: 'text'; text: string } | { type: 'image' })[];
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(
  source: string,
  messages: ChatMessage[],
  options: { addGenerationPrompt: boolean; specialTokens: Record<string, string | undefined> },
): string {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (err) {
      throw new Error(`chat template does not parse: ${err instanceof Error ? err.message : String(err)}`);
    }
    compiled.set(source, template);
  }
  return template.render({
    messages,
    add_generation_prompt: options.addGenerationPrompt,
    ...options.specialTokens,
  });
}
