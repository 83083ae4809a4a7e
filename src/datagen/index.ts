// Library entry of the data engine (GPT-assisted instruction data, paper §3). Nothing here loads
// tensors or the native addon: data generation runs on machines without libtorch.

export { cocoBoxToNormalized, pythonFloatRepr, renderContext, roundPython3, type ImageContext } from './context.js';
export { checkImageContext, InputError, readCapsBoxesJsonl, readCoco } from './sources.js';
export {
  buildMessages,
  DEFAULT_PROMPTS_DIR,
  isPromptType,
  loadPromptSet,
  PROMPT_TYPES,
  usesBoxes,
  type ChatMessage,
  type PromptSet,
  type PromptType,
} from './prompts.js';
export { DETAIL_INSTRUCTIONS, loadInstructions } from './instructions.js';
export { parseReply, type Parsed, type Turn } from './parse.js';
export { DATAGEN_PLACEMENTS, toInstructionRecord, type DatagenPlacement, type InstructionRecord } from './record.js';
export {
  ChatClient,
  RequestFailed,
  RETRY_CAUSES,
  type AttemptObserver,
  type ClientOptions,
  type Completion,
  type RequestBody,
  type RetryCause,
  type Usage,
} from './client.js';
export { checkBackoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { requestKey, ResponseCache } from './cache.js';
export { Ledger, type RequestCounts } from './ledger.js';
export { OutputStore } from './output.js';
export { DEFAULT_PRICES, estimateCost, loadPrices, priceFor, type Price, type PriceTable } from './pricing.js';
export { runDatagen, type DatagenOptions } from './run.js';
export { formatSummary, type DatagenSummary } from './summary.js';
