// Library entry of the text path (`llava-ts/text`): tokenizers, the reference's conversation templates, the
// `<image>` rule and label masking. Nothing here loads tensors or the native addon.
export { TextTokenizer, type TokenizerConfig, type EncodeOptions } from './tokenizer.js';
export { renderChatTemplate, type ChatMessage } from './chat-template.js';
export {
  conversationTemplate,
  conversationTemplates,
  generationPrompt,
  renderPrompt,
  stopString,
  type ConversationTemplate,
  type Message,
  type SepStyle,
} from './conversation.js';
export {
  countImageTokens,
  DEFAULT_IMAGE_TOKEN,
  IGNORE_INDEX,
  IMAGE_TOKEN_INDEX,
  tokenizerImageToken,
  type ImageTokenOptions,
} from './image-token.js';
export {
  IMAGE_PLACEMENTS,
  placeImage,
  type ImagePlacement,
  type PlacementOptions,
  type Turn,
} from './image-placement.js';
export {
  preprocess,
  preprocessPlain,
  preprocessRounds,
  type Preprocessed,
  type PreprocessOptions,
} from './preprocess.js';
