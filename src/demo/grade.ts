// The offline judge: it reads the claims an answer makes about colours, shapes, sizes, counts and positions
// (in the world's own phrasing, or as the bare short answer to the question asked), checks each against the scene
// rebuilt from the judge prompt's context, and scores 1..10: a false claim costs 3 points, a fact the question
// called for and the answer left out 1.5, an answer with no true claim at most 3.

import { WORLD } from './config.js';
import { NUMBER_WORDS, parseWhere } from './phrases.js';
import { objectWith, zone, type Scene } from './scene.js';
import { parseContextText } from './teacher-replies.js';
import { recognise } from './truth.js';
import { sceneFromContext } from './world.js';

export interface JudgeRequest {
  /** The rule's role name ("Assistant"). */
  role: string;
  context: string;
  question: string;
  answers: [string, string];
}

/** The parts of judgePrompt's text (src/eval/judge-prompt.ts), whatever the rule's role name. */
export function parseJudgePrompt(prompt: string): JudgeRequest | undefined {
  const m =
    /^\[Context\]\n([\s\S]*?)\n\n\[Question\]\n([\s\S]*?)\n\n\[(.+?) 1\]\n([\s\S]*?)\n\n\[End of \3 1\]\n\n\[\3 2\]\n([\s\S]*?)\n\n\[End of \3 2\]\n\n\[System\]\n/.exec(
      prompt,
    );
  return m ? { role: m[3]!, context: m[1]!, question: m[2]!, answers: [m[4]!, m[5]!] } : undefined;
}

const COLOURS = WORLD.colours.join('|');
const SHAPES = WORLD.shapes.join('|');
const PLACE = '((?:at|on|in) the (?:top|bottom|left|right|middle)(?: (?:left|right))?)';
const NUMBER = `(${NUMBER_WORDS.join('|')}|\\d+)`;
const NEGATION = /\b(no|not|isn't|aren't|neither|nor)\b/;
const COUNTERFACTUAL = /\b(would|leaves|taken away|remain|added|another|fewer)\b/;

export interface Claims {
  true: string[];
  false: string[];
}

const numberValue = (w: string) => (/^\d+$/.test(w) ? Number(w) : NUMBER_WORDS.indexOf(w as never));

/** Every checkable claim of `answer` (to `question`) about `scene`. */
export function claimsOf(scene: Scene, question: string, answer: string): Claims {
  const claims: Claims = { true: [], false: [] };
  const claim = (ok: boolean, text: string) => (ok ? claims.true : claims.false).push(text);
  const text = answer.trim().toLowerCase();
  const asked = recognise(question);
  const askedShape = asked?.match.slice(1).find((g) => g && WORLD.shapes.includes(g as never));

  // The bare short answer (LLaVA-1.5's single word or phrase) answers the question's own fact.
  const bare = /^([a-z0-9]+)\.?$/.exec(text)?.[1];
  if (bare && asked) {
    const name = asked.template.name;
    const o = askedShape ? objectWith(scene, askedShape) : undefined;
    if (name === 'existence' && (bare === 'yes' || bare === 'no')) {
      const [, colour, shape] = asked.match;
      claim((objectWith(scene, shape!)?.colour === colour) === (bare === 'yes'), `${bare}: ${colour} ${shape}`);
    } else if (name === 'count') claim(numberValue(bare) === scene.objects.length, `${bare} shapes`);
    else if (name === 'colour' && o) claim(o.colour === bare, `the ${askedShape} is ${bare}`);
    else if (name === 'side' && o) claim(zone(o.box).h === bare, `the ${askedShape} is on the ${bare}`);
    else if (name === 'size' && o) claim(o.size === bare, `the ${askedShape} is ${bare}`);
    return claims;
  }

  for (const sentence of text.split(/[.!?;:\n]+/)) {
    const negated = NEGATION.test(sentence);
    let rest = sentence;
    for (const m of sentence.matchAll(new RegExp(`\\b(?:(small|large) )?(${COLOURS}) (${SHAPES})s?\\b`, 'g'))) {
      const [all, size, colour, shape] = m;
      const o = objectWith(scene, shape!);
      const present = o?.colour === colour && (!size || o.size === size);
      claim(present !== negated, `${negated ? 'no ' : ''}${all}`);
      rest = rest.replace(all, ' ');
    }
    // "The circle is red": a shape then its colour (or size) in the same clause.
    for (const m of rest.matchAll(new RegExp(`\\b(${SHAPES}) is (${COLOURS}|small|large)\\b`, 'g'))) {
      const o = objectWith(scene, m[1]!);
      if (o && !negated) claim(o.colour === m[2] || o.size === m[2], m[0]);
      rest = rest.replace(m[0], ' ');
    }
    // A colour named on its own ("two colours: red and blue") claims some shape has it.
    if (!negated)
      for (const m of rest.matchAll(new RegExp(`\\b(${COLOURS})\\b`, 'g')))
        claim(
          scene.objects.some((o) => o.colour === m[1]),
          `something ${m[1]}`,
        );
    for (const m of sentence.matchAll(new RegExp(`\\b(${SHAPES}) (?:is |sits |is placed )?${PLACE}`, 'g'))) {
      const o = objectWith(scene, m[1]!);
      const where = parseWhere(m[2]!);
      if (o && where && !negated) {
        // Only the axes the phrase names: "on the left" says nothing of top or bottom, "in the middle" of both.
        const z = zone(o.box);
        const named =
          m[2]! === 'in the middle' ? ['h', 'v'] : (['h', 'v'] as const).filter((a) => where[a] !== 'middle');
        claim(
          named.every((a) => z[a as 'h' | 'v'] === where[a as 'h' | 'v']),
          m[0],
        );
      }
    }
    if (!COUNTERFACTUAL.test(sentence)) {
      for (const m of sentence.matchAll(new RegExp(`\\b${NUMBER} (?:shapes?|objects?)\\b`, 'g')))
        claim(numberValue(m[1]!) === scene.objects.length, m[0]);
    }
    if (/from left to right/.test(sentence)) {
      const xs = [...sentence.matchAll(new RegExp(`\\b(${SHAPES})\\b`, 'g'))].map((m) => objectWith(scene, m[1]!));
      if (xs.length > 1 && xs.every((o) => o !== undefined))
        claim(
          xs.every((o, i) => i === 0 || o!.box[0] + o!.box[2] > xs[i - 1]!.box[0] + xs[i - 1]!.box[2]),
          sentence.trim(),
        );
    }
  }
  return claims;
}

/** Facts a full answer to `question` states: one for a single-fact question, each object for the inventory,
 * each object and the count for descriptions and reasoning. */
function factsAskedFor(scene: Scene, question: string): number {
  const name = recognise(question)?.template.name;
  if (name && ['existence', 'colour', 'count', 'where', 'side', 'size', 'extreme', 'same-colour'].includes(name))
    return 1;
  return name === 'inventory' ? scene.objects.length : scene.objects.length + 1;
}

export function scoreAnswer(scene: Scene, question: string, answer: string): { score: number; claims: Claims } {
  const claims = claimsOf(scene, question, answer);
  const missing = Math.max(0, factsAskedFor(scene, question) - claims.true.length);
  let score = Math.round(10 - 3 * claims.false.length - 1.5 * missing);
  if (claims.true.length === 0) score = Math.min(score, 3);
  return { score: Math.max(1, Math.min(10, score)), claims };
}

/** The judge's reply (parse-score.ts reads the first line), or undefined when the prompt is not a judge prompt. */
export function judgeReply(prompt: string): string | undefined {
  const request = parseJudgePrompt(prompt);
  if (!request) return undefined;
  const scene = sceneFromContext(parseContextText(request.context));
  const [a, b] = request.answers.map((answer) => scoreAnswer(scene, request.question, answer));
  const why = (n: number, r: { claims: Claims }) =>
    `${request.role} ${n} makes ${r.claims.true.length} true and ${r.claims.false.length} false statements about the image` +
    (r.claims.false.length ? ` (wrong: ${r.claims.false.join('; ')})` : '') +
    '.';
  return `${a!.score} ${b!.score}\n${why(1, a!)} ${why(2, b!)}`;
}
