// A Jinja chat template that renders one of the reference's two-separator conversation templates (vicuna_v1,
// llava_v1: "SYSTEM USER: q ASSISTANT: a</s>USER: ...") exactly as renderMessages does, for checkpoints written in
// the llava-hf layout, which are prompted through their chat template: a system message replaces the template's
// system prompt, and a message's images go in front of its text as `<image>\n`.
import type { ConversationTemplate } from './conversation.js';

/** `t` must be a TWO-style template without built-in examples (vicuna_v1, llava_v1). */
export function conversationChatTemplate(t: ConversationTemplate): string {
  if (t.sepStyle !== 'TWO' || t.sep2 === null || t.examples.length > 0)
    throw new Error(`conversationChatTemplate: '${t.name}' is not a two-separator template without examples`);
  const s = (text: string) => JSON.stringify(text); // a Jinja string literal
  const text = (content: string) =>
    `{%- if ${content} is string -%}{{- ${content} -}}{%- else -%}` +
    `{%- for part in ${content} -%}{%- if part['type'] == 'image' -%}{{- ${s('<image>\n')} -}}{%- endif -%}{%- endfor -%}` +
    `{%- for part in ${content} -%}{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}{%- endfor -%}` +
    `{%- endif -%}`;
  return [
    `{%- if messages[0]['role'] == 'system' -%}${text("messages[0]['content']")}{%- else -%}{{- ${s(t.system)} -}}{%- endif -%}`,
    `{{- ${s(t.sep)} -}}`,
    `{%- for message in messages -%}`,
    `{%- if message['role'] == 'user' -%}{{- ${s(`${t.roles[0]}: `)} -}}${text("message['content']")}{{- ${s(t.sep)} -}}`,
    `{%- elif message['role'] == 'assistant' -%}{{- ${s(`${t.roles[1]}: `)} -}}${text("message['content']")}{{- ${s(t.sep2)} -}}`,
    `{%- endif -%}`,
    `{%- endfor -%}`,
    `{%- if add_generation_prompt -%}{{- ${s(`${t.roles[1]}:`)} -}}{%- endif -%}`,
  ].join('');
}
