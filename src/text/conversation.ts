// LLaVA's conversation templates (llava/conversation.py; spec §3): system prompts, roles and separators byte for
// byte, prompt assembly (`get_prompt`) for training and for generation, and the stop string serving uses.

export type SepStyle = 'SINGLE' | 'TWO' | 'MPT' | 'PLAIN' | 'LLAMA_2';

/** One message; `content: null` is the open slot the assistant fills at generation time. */
export interface Message {
  role: string;
  content: string | null;
}

export interface ConversationTemplate {
  name: string;
  system: string;
  /** [user role, assistant role] as rendered. */
  roles: [string, string];
  /** Built-in few-shot messages rendered before the conversation (only vicuna_v0 has them). */
  examples: Message[];
  sepStyle: SepStyle;
  sep: string;
  sep2: string | null;
  version: string;
}

const SYSTEM_HUMAN =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";
const SYSTEM_USER =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";
// No space after "language." — the reference concatenates the two sentences without one (spec §10.11).
const SYSTEM_MMTAG =
  'A chat between a curious user and an artificial intelligence assistant. The assistant is able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.The visual content will be provided with the following format: <Image>visual content</Image>.';
const SYSTEM_LLAVA_LLAMA_2 =
  'You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.';
// Llama-2's stock system prompt; note the double space after "while being safe.".
const SYSTEM_LLAMA_2 =
  "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n\nIf a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. If you don't know the answer to a question, please don't share false information.";
const SYSTEM_MPT =
  '<|im_start|>system\nA conversation between a user and an LLM-based AI assistant. The assistant gives helpful and honest answers.';

// vicuna_v0's one-shot example, rendered by get_prompt for `default`/`v0` (not by the training code, which clears it).
const V0_EXAMPLE: Message[] = [
  { role: 'Human', content: 'What are the key differences between renewable and non-renewable energy sources?' },
  {
    role: 'Assistant',
    content:
      'Renewable energy sources are those that can be replenished naturally in a relatively short amount of time, such as solar, wind, hydro, geothermal, and biomass. ' +
      'Non-renewable energy sources, on the other hand, are finite and will eventually be depleted, such as coal, oil, and natural gas. Here are some key differences between renewable and non-renewable energy sources:\n' +
      '1. Availability: Renewable energy sources are virtually inexhaustible, while non-renewable energy sources are finite and will eventually run out.\n' +
      '2. Environmental impact: Renewable energy sources have a much lower environmental impact than non-renewable sources, which can lead to air and water pollution, greenhouse gas emissions, and other negative effects.\n' +
      '3. Cost: Renewable energy sources can be more expensive to initially set up, but they typically have lower operational costs than non-renewable sources.\n' +
      '4. Reliability: Renewable energy sources are often more reliable and can be used in more remote locations than non-renewable sources.\n' +
      '5. Flexibility: Renewable energy sources are often more flexible and can be adapted to different situations and needs, while non-renewable sources are more rigid and inflexible.\n' +
      '6. Sustainability: Renewable energy sources are more sustainable over the long term, while non-renewable sources are not, and their depletion can lead to economic and social instability.\n',
  },
];

function template(
  name: string,
  t: Omit<ConversationTemplate, 'name' | 'examples'> & { examples?: Message[] },
): ConversationTemplate {
  return Object.freeze({ name, examples: [], ...t });
}

const vicunaV0 = template('vicuna_v0', {
  system: SYSTEM_HUMAN,
  roles: ['Human', 'Assistant'],
  examples: V0_EXAMPLE,
  sepStyle: 'SINGLE',
  sep: '###',
  sep2: null,
  version: 'Unknown',
});
const vicunaV1 = template('vicuna_v1', {
  system: SYSTEM_USER,
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'TWO',
  sep: ' ',
  sep2: '</s>',
  version: 'v1',
});
const llavaV1 = template('llava_v1', {
  system: SYSTEM_HUMAN,
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'TWO',
  sep: ' ',
  sep2: '</s>',
  version: 'v1',
});
const llavaV1Mmtag = template('v1_mmtag', {
  system: SYSTEM_MMTAG,
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'TWO',
  sep: ' ',
  sep2: '</s>',
  version: 'v1_mmtag',
});
const llavaV0 = template('llava_v0', {
  system: SYSTEM_HUMAN,
  roles: ['Human', 'Assistant'],
  sepStyle: 'SINGLE',
  sep: '###',
  sep2: null,
  version: 'Unknown',
});
const llavaV0Mmtag = template('v0_mmtag', {
  system: SYSTEM_MMTAG,
  roles: ['Human', 'Assistant'],
  sepStyle: 'SINGLE',
  sep: '###',
  sep2: null,
  version: 'v0_mmtag',
});
const plain = template('plain', {
  system: '',
  roles: ['', ''],
  sepStyle: 'PLAIN',
  sep: '\n',
  sep2: null,
  version: 'Unknown',
});
const llama2 = template('llama_2', {
  system: SYSTEM_LLAMA_2,
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'LLAMA_2',
  sep: '<s>',
  sep2: '</s>',
  version: 'llama_v2',
});
const llavaLlama2 = template('llava_llama_2', {
  system: SYSTEM_LLAVA_LLAMA_2,
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'LLAMA_2',
  sep: '<s>',
  sep2: '</s>',
  version: 'llama_v2',
});
const mpt = template('mpt', {
  system: SYSTEM_MPT,
  roles: ['<|im_start|>user\n', '<|im_start|>assistant\n'],
  sepStyle: 'MPT',
  sep: '<|im_end|>',
  sep2: null,
  version: 'mpt',
});
const mistralInstruct = template('mistral_instruct', {
  system: '',
  roles: ['USER', 'ASSISTANT'],
  sepStyle: 'LLAMA_2',
  sep: '',
  sep2: '</s>',
  version: 'llama_v2',
});
const chatmlDirect = template('chatml_direct', {
  system: '<|im_start|>system\nAnswer the questions.',
  roles: ['<|im_start|>user\n', '<|im_start|>assistant\n'],
  sepStyle: 'MPT',
  sep: '<|im_end|>',
  sep2: null,
  version: 'mpt',
});

/** The reference registry (`conv_templates`): several keys share one template. */
export const conversationTemplates: Readonly<Record<string, ConversationTemplate>> = Object.freeze({
  default: vicunaV0,
  v0: vicunaV0,
  v1: vicunaV1,
  vicuna_v1: vicunaV1,
  llama_2: llama2,
  mistral_instruct: mistralInstruct,
  chatml_direct: chatmlDirect,
  mistral_direct: chatmlDirect,
  plain,
  v0_plain: plain,
  llava_v0: llavaV0,
  v0_mmtag: llavaV0Mmtag,
  llava_v1: llavaV1,
  v1_mmtag: llavaV1Mmtag,
  llava_llama_2: llavaLlama2,
  mpt,
});

export function conversationTemplate(name: string): ConversationTemplate {
  const t = conversationTemplates[name];
  if (!t)
    throw new Error(`unknown conversation template '${name}'; known: ${Object.keys(conversationTemplates).join(', ')}`);
  return t;
}

/** `Conversation.get_prompt()`: the messages given, after none of the template's examples (callers add them). */
export function renderPrompt(t: ConversationTemplate, messages: readonly Message[]): string {
  // The reference tests `if message:`, so an empty string renders as an open slot too (golden vis-27).
  const open = (m: Message) => m.content === null || m.content === '';
  switch (t.sepStyle) {
    case 'SINGLE':
      return messages.reduce(
        (ret, m) => ret + (open(m) ? `${m.role}:` : `${m.role}: ${m.content}${t.sep}`),
        t.system + t.sep,
      );
    case 'TWO': {
      const seps = [t.sep, t.sep2];
      return messages.reduce(
        (ret, m, i) => ret + (open(m) ? `${m.role}:` : `${m.role}: ${m.content}${seps[i % 2]}`),
        t.system + t.sep,
      );
    }
    case 'MPT':
      return messages.reduce((ret, m) => ret + (open(m) ? m.role : m.role + m.content + t.sep), t.system + t.sep);
    case 'LLAMA_2':
      return renderLlama2(t, messages, open);
    case 'PLAIN':
      return messages.reduce((ret, m, i) => {
        if (open(m)) return ret;
        const sep = i % 2 === 0 ? t.sep : t.sep2;
        if (sep === null)
          throw new Error(
            `template '${t.name}' has no sep2 for the assistant turn; stage-1 strings are built by preprocessPlain`,
          );
        return ret + m.content + sep;
      }, t.system);
  }
}

function renderLlama2(t: ConversationTemplate, messages: readonly Message[], open: (m: Message) => boolean): string {
  if (messages.length > 0 && (open(messages[0]!) || messages[0]!.role !== t.roles[0])) {
    throw new Error(`template '${t.name}': the first message must be a non-empty ${t.roles[0]} message`);
  }
  let ret = '';
  messages.forEach((m, i) => {
    if (open(m)) return;
    let text = m.content!;
    if (i === 0 && t.system.length > 0) text = `<<SYS>>\n${t.system}\n<</SYS>>\n\n${text}`;
    ret += i % 2 === 0 ? `${t.sep}[INST] ${text} [/INST]` : ` ${text} ${t.sep2}`;
  });
  // Python's ret.lstrip(sep): strips any leading characters that occur in sep ('<', 's', '>'), not the string.
  let start = 0;
  while (start < ret.length && t.sep.includes(ret[start]!)) start++;
  return ret.slice(start);
}

/** The prompt the model continues at generation time: examples, the conversation so far, an open assistant slot. */
export function generationPrompt(t: ConversationTemplate, messages: readonly Message[]): string {
  return renderPrompt(t, [...t.examples, ...messages, { role: t.roles[1], content: null }]);
}

/** The string that ends an assistant reply (the web UI's stop string): sep for SINGLE/MPT, else sep2. */
export function stopString(t: ConversationTemplate): string {
  if (t.sepStyle === 'SINGLE' || t.sepStyle === 'MPT' || t.sep2 === null) return t.sep;
  return t.sep2;
}
