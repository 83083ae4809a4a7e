// How a checkpoint turns messages into a prompt: its own chat template (llava-hf: chat_template.json or
// tokenizer_config.json), else one of the reference's conversation templates, picked from the model's folder name as
// llava/serve/cli.py and run_llava.py pick it (spec §3.3), with the stop string the reference's server uses (§3.2).
import { basename, dirname, resolve } from 'node:path';
import type { ChatMessage } from '../text/chat-template.js';
import {
  conversationTemplate,
  renderPrompt,
  stopString,
  type ConversationTemplate,
  type Message,
} from '../text/conversation.js';
import { DEFAULT_IMAGE_TOKEN } from '../text/image-token.js';
import type { TextTokenizer } from '../text/tokenizer.js';

export type PromptFormat =
  { kind: 'chat-template'; tokenizer: TextTokenizer } | { kind: 'conversation'; template: ConversationTemplate };

/** llava/mm_utils.py get_model_name_from_path: the folder's name, or `<parent>_<name>` for checkpoint-N folders. */
export function modelNameFromPath(dir: string): string {
  const path = resolve(dir);
  const name = basename(path);
  return name.startsWith('checkpoint-') ? `${basename(dirname(path))}_${name}` : name;
}

/** The conv_mode the reference CLI and run_llava.py choose for a model name (first match wins). */
export function conversationTemplateForModel(modelName: string): string {
  const name = modelName.toLowerCase();
  if (name.includes('llama-2')) return 'llava_llama_2';
  if (name.includes('mistral')) return 'mistral_instruct';
  if (name.includes('v1.6-34b')) return 'chatml_direct';
  if (name.includes('v1')) return 'llava_v1';
  if (name.includes('mpt')) return 'mpt';
  return 'llava_v0';
}

/** The checkpoint's chat template when it has one; else `templateName`, else the reference's choice by name. */
export function choosePromptFormat(tokenizer: TextTokenizer, dir: string, templateName?: string): PromptFormat {
  if (templateName === undefined && tokenizer.chatTemplate !== undefined) return { kind: 'chat-template', tokenizer };
  return {
    kind: 'conversation',
    template: conversationTemplate(templateName ?? conversationTemplateForModel(modelNameFromPath(dir))),
  };
}

/**
 * The prompt text for messages (roles 'system' | 'user' | 'assistant'; image parts become `<image>`).
 * Conversation templates take the reference's path: a system message replaces the template's system prompt, and
 * each message's images go in front of its text as `<image>\n` (the CLI and web UI do this for the first turn).
 */
export function renderMessages(format: PromptFormat, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  if (format.kind === 'chat-template') return format.tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  const t = format.template;
  let system = t.system;
  const turns: Message[] = [];
  messages.forEach((m, i) => {
    const content = messageText(m);
    if (m.role === 'system') {
      if (i !== 0) throw new Error(`messages[${i}]: a system message must come first`);
      system = content;
      return;
    }
    const expected = turns.length % 2 === 0 ? 'user' : 'assistant';
    if (m.role !== expected)
      throw new Error(`messages[${i}]: expected a '${expected}' message (turns alternate), got '${m.role}'`);
    turns.push({ role: t.roles[turns.length % 2]!, content });
  });
  const open: Message[] = addGenerationPrompt ? [{ role: t.roles[1], content: null }] : [];
  return renderPrompt({ ...t, system }, [...t.examples, ...turns, ...open]);
}

function messageText(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  const images = m.content.filter((p) => p.type === 'image').length;
  const text = m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return `${DEFAULT_IMAGE_TOKEN}\n`.repeat(images) + text;
}

/** Strings that end a reply besides EOS: the template's separator (e.g. `###` for llava_v0); none for chat templates. */
export function stopStrings(format: PromptFormat): string[] {
  return format.kind === 'conversation' ? [stopString(format.template)] : [];
}
