// LLaVA's convert_answer_to_mme.py: a model_vqa answer file for llava_mme.jsonl (question_id
// "<task>/<image file>", prompt = the question + the short-answer suffix) turned into MME's
// results folder (mme.ts), the ground truth looked up in the benchmark folder by (task, image
// name with .txt, question). The benchmark keeps each task either as <task>/images/ with
// <task>/questions_answers_YN/*.txt, or flat as <task>/*.txt beside the images; each .txt line is
// "question<TAB>yes|no". As the script, the lines of a task keep the answer file's order (MME's
// tool takes consecutive lines as an image's two questions), and a question not found as given is
// tried with " Please answer yes or no." and then with two spaces before "Please".

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonlObjects } from './jsonl.js';
import { pythonStrip } from './python-str.js';

const SHORT_ANSWER = 'Answer the question using a single word or phrase.';
const YES_NO = ' Please answer yes or no.';

/** (task, file, question) -> yes/no, from the benchmark folder. */
function groundTruth(benchmarkDir: string): Map<string, string> {
  const truth = new Map<string, string>();
  for (const task of readdirSync(benchmarkDir)) {
    const dir = join(benchmarkDir, task);
    if (!statSync(dir).isDirectory()) continue;
    const qa = existsSync(join(dir, 'images')) ? join(dir, 'questions_answers_YN') : dir;
    for (const file of readdirSync(qa).filter((f) => f.endsWith('.txt'))) {
      for (const line of readFileSync(join(qa, file), 'utf8').split('\n')) {
        if (pythonStrip(line) === '') continue;
        const fields = pythonStrip(line).split('\t');
        if (fields.length !== 2)
          throw new Error(`${join(qa, file)}: expected "question<TAB>answer" lines, got ${JSON.stringify(line)}`);
        truth.set(JSON.stringify([task, file, fields[0]]), fields[1]!);
      }
    }
  }
  return truth;
}

/** The results folder's content: task -> the text of <task>.txt. */
export function mmeResultsFromAnswers(answersFile: string, benchmarkDir: string): Map<string, string> {
  const truth = groundTruth(benchmarkDir);
  const results = new Map<string, string>();
  for (const { line, record } of readJsonlObjects(answersFile)) {
    const where = `${answersFile}:${line}`;
    const { question_id: id, prompt, text } = record;
    if (typeof id !== 'string' || !id.includes('/'))
      throw new Error(`${where}: question_id must be "<task>/<image>", got ${JSON.stringify(id)}`);
    if (typeof prompt !== 'string' || typeof text !== 'string')
      throw new Error(`${where}: an answer needs string "prompt" and "text"`);
    const task = id.split('/')[0]!;
    const file = `${id.split('/').pop()!.split('.')[0]}.txt`;
    let question = prompt.includes(SHORT_ANSWER) ? pythonStrip(prompt.replace(SHORT_ANSWER, '')) : prompt;
    if (!question.includes(YES_NO.trim())) {
      question += YES_NO;
      if (!truth.has(JSON.stringify([task, file, question]))) question = question.replace(YES_NO, ` ${YES_NO}`);
    }
    const answer = truth.get(JSON.stringify([task, file, question]));
    if (answer === undefined)
      throw new Error(`${where}: no ground truth in ${benchmarkDir} for ${task}/${file}: ${JSON.stringify(question)}`);
    results.set(task, (results.get(task) ?? '') + `${[file, question, answer, text].join('\t')}\n`);
  }
  return results;
}
