// Library entry of the evaluation (paper §5, LLaVA-1.5 §4): LLaVA-Bench judged by any
// OpenAI-compatible model and summarised exactly as the reference, and the exact-match
// benchmarks. Only `answers` needs tensors; it is imported from its own module.

export { pythonFixed, pythonFloatStr, pythonParseFloat, pythonRound } from './python-float.js';
export { PyFloat, pythonJsonDumps, pythonJsonLoads, pythonRepr, pythonStrRepr, type PyValue } from './python-json.js';
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
  UNNAMED_REFERENCE,
} from './summarize.js';
export {
  CHART_BOOTSTRAP,
  chartHtml,
  chartJsSource,
  compare,
  formatComparison,
  runLabel,
  type Comparison,
} from './chart.js';
export {
  JUDGE_SYSTEM,
  contextText,
  judgePrompt,
  parseRules,
  ruleCategory,
  type Bench,
  type Rule,
} from './judge-prompt.js';
export {
  detectBench,
  readJudgeInputs,
  sameId,
  type BenchFiles,
  type JudgeInputs,
  type JudgeItem,
} from './bench-inputs.js';
export { JsonlAppender } from './jsonl-append.js';
export { promptSha256, reviewLine, reviewUsage, type JudgeRecord } from './review.js';
export { checkResumable, runChatTasks, type ChatRunOptions, type ChatRunSummary, type ChatTask } from './chat-run.js';
export { formatJudgeSummary, runJudge, type JudgeOptions, type JudgeSummary } from './judge.js';
export { referenceMessages, runReference, type ReferenceOptions } from './reference.js';
export { pythonSplit, pythonStrip } from './python-str.js';
export {
  evalScienceQA,
  formatScienceQA,
  scienceQAOutputs,
  sqaParseAnswer,
  sqaPredIndex,
  SQA_OPTIONS,
  type SqaProblemResult,
  type SqaResult,
} from './science-qa.js';
export { evalPope, formatPope, popeAnswer, popeMetrics, type PopeFiles, type PopeMetrics } from './pope.js';
export { vqaNormalize, vqaNormalizeStages, type NormalizeStages } from './vqa-normalize.js';
export {
  evalTextVqa,
  formatTextVqa,
  textVqaQuestion,
  vqaAccuracy,
  vqaAnswerScores,
  vqaScore,
  type TextVqaResult,
} from './vqa-accuracy.js';
export { evalMme, formatMme, mmeAnswer, mmeScores, mmeTask, MME_TASKS, type MmeGroup, type MmeTask } from './mme.js';
export { mmeResultsFromAnswers } from './mme-convert.js';
export { answerId } from './answer-id.js';
export type { AnswersOptions, AnswersSummary } from './answers.js';
export { readQuestionFile, SINGLE_PRED_PROMPT, type Question } from './questions.js';

/** `answers.ts` loads tensors; importing it here lazily keeps this entry free of the native addon. */
export async function runAnswers(o: import('./answers.js').AnswersOptions) {
  return (await import('./answers.js')).runAnswers(o);
}
