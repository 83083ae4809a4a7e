// Library entry of the evaluation (paper §5, LLaVA-1.5 §4): LLaVA-Bench judged by any
// OpenAI-compatible model and summarised exactly as the reference, and the exact-match
// benchmarks. Only `answers` needs tensors; it is imported from its own module.

export { pythonFixed, pythonFloatStr, pythonParseFloat, pythonRound } from './python-float.js';
export { PyFloat, pythonJsonDumps, pythonJsonLoads, pythonStrRepr, type PyValue } from './python-json.js';
export { parseJsonl, readJsonl, readJsonlObjects, type JsonlLine } from './jsonl.js';
export { parseScore, type ParsedScore, type ScorePair } from './parse-score.js';
export {
  codePointCompare,
  configName,
  formatSummary,
  reviewFiles,
  summarize,
  summarizeFile,
  type FileSummary,
  type ReviewFailure,
  type SummarizeOptions,
  type SummaryRow,
} from './summarize.js';
