// True long answers about a scene: the question templates the teacher asks in conversations and the benchmark
// asks, each a generator (a question with varied phrasing, or none when it does not apply to the scene) and a
// recogniser (a pattern that reads the question back), so that any question of these forms, whoever wrote it,
// gets a true answer. Anything unrecognised is answered with the scene's description, which is always true.

import {
  article,
  capitalise,
  inventory,
  named,
  countPhrase,
  leftToRight,
  listPhrase,
  NUMBER_WORDS,
  objectName,
  placeOf,
  type Pick,
} from './phrases.js';
import { objectWith, zone, type Scene } from './scene.js';
import { WORLD } from './config.js';
import { COMPLEX_TEMPLATES } from './reasoning.js';

const SHAPE = `(${WORLD.shapes.join('|')})`;
const COLOUR = `(${WORLD.colours.join('|')})`;

export interface Template {
  name: string;
  ask(scene: Scene, pick: Pick): string | undefined;
  pattern: RegExp;
  answer(scene: Scene, match: RegExpExecArray, pick: Pick): string;
}

const other = (scene: Scene) => scene.objects.length > 1;
const noShape = (shape: string) => `There is no ${shape} in the image.`;

export function description(scene: Scene, pick: Pick): string {
  const n = scene.objects.length;
  const places = scene.objects.map((o, i) => {
    const verb = pick(['is', 'sits', 'is placed']);
    return `${i === 0 ? capitalise(article(objectName(o, true))) : article(objectName(o, true))} ${verb} ${placeOf(o)}`;
  });
  const opener = pick(['The image shows', 'This picture contains', n === 1 ? 'There is' : 'There are']);
  const background = pick(['on a light background', 'on a plain light background', 'against a pale background']);
  const parts = [`${opener} ${countPhrase(n)} ${background}.`, `${listPhrase(places)}.`];
  const order = leftToRight(scene);
  if (order && n > 1) {
    const names = listPhrase(order.map((o) => named(o)));
    parts.push(pick([`From left to right, the shapes are ${names}.`, `Reading from left to right: ${names}.`]));
  }
  if (n === 1) parts.push(pick(['Nothing else is in the picture.', 'It is the only shape in the picture.', '']));
  else parts.push(pick([`The colours are ${listPhrase([...new Set(scene.objects.map((o) => o.colour))])}.`, '']));
  const large = scene.objects.filter((o) => o.size === 'large').length;
  if (n > 1)
    parts.push(
      large === 0
        ? 'All of them are small.'
        : large === n
          ? 'All of them are large.'
          : `${capitalise(NUMBER_WORDS[large]!)} of them ${large === 1 ? 'is' : 'are'} large and ${NUMBER_WORDS[n - large]} ${n - large === 1 ? 'is' : 'are'} small.`,
    );
  return parts.filter((p) => p !== '').join(' ');
}

export const TEMPLATES: Template[] = [
  {
    name: 'existence',
    ask: (scene, pick) => {
      const o = pick(scene.objects);
      const colour = pick([o.colour, pick(WORLD.colours)]);
      return `Is there ${article(`${colour} ${o.shape}`)} in the image?`;
    },
    pattern: new RegExp(`^Is there an? ${COLOUR} ${SHAPE}\\b`),
    answer: (scene, [, colour, shape], pick) => {
      const o = objectWith(scene, shape!);
      if (o?.colour === colour) return `Yes, there is ${article(objectName(o))} ${placeOf(o)}.`;
      const rest = o ? ` The ${shape} is ${o.colour}.` : '';
      return `${pick(['No', 'No, there is not'])}. There is no ${colour} ${shape} in the image.${rest}`;
    },
  },
  {
    name: 'colour',
    ask: (scene, pick) =>
      pick([
        `What colour is the ${pick(scene.objects).shape}?`,
        `What is the colour of the ${pick(scene.objects).shape}?`,
      ]),
    pattern: new RegExp(`colou?r (?:is|of) the ${SHAPE}\\b`),
    answer: (scene, [, shape], pick) => {
      const o = objectWith(scene, shape!);
      if (!o) return noShape(shape!);
      return pick([`The ${shape} is ${o.colour}.`, `It is ${o.colour}: the image shows ${article(objectName(o))}.`]);
    },
  },
  {
    name: 'count',
    ask: (_, pick) => pick(['How many shapes are in the image?', 'How many shapes can you see?']),
    pattern: /^How many (?:shapes|objects)/,
    answer: (scene, _, pick) => {
      const n = scene.objects.length;
      const shapes =
        n === 1 ? `just one: ${inventory(scene.objects)}` : `${NUMBER_WORDS[n]}: ${inventory(scene.objects)}`;
      return pick([`There ${n === 1 ? 'is' : 'are'} ${countPhrase(n)} in the image.`, `I can see ${shapes}.`]);
    },
  },
  {
    name: 'where',
    ask: (scene, pick) => {
      const o = pick(scene.objects);
      return pick([`Where is the ${objectName(o)}?`, `Where is the ${o.shape} in the image?`]);
    },
    pattern: new RegExp(`^Where is the (?:${COLOUR} )?${SHAPE}\\b`),
    answer: (scene, [, , shape]) => {
      const o = objectWith(scene, shape!);
      return o ? `The ${objectName(o)} is ${placeOf(o)} of the image.` : noShape(shape!);
    },
  },
  {
    name: 'side',
    ask: (scene, pick) => {
      const sided = scene.objects.filter((o) => zone(o.box).h !== 'middle');
      return sided.length ? `Is the ${pick(sided).shape} on the left or the right of the image?` : undefined;
    },
    pattern: new RegExp(`^Is the ${SHAPE} on the left or the right`),
    answer: (scene, [, shape]) => {
      const o = objectWith(scene, shape!);
      if (!o) return noShape(shape!);
      const { h } = zone(o.box);
      return h === 'middle'
        ? `The ${objectName(o)} is in the middle of the image.`
        : `The ${objectName(o)} is on the ${h}.`;
    },
  },
  {
    name: 'size',
    ask: (scene, pick) => `Is the ${pick(scene.objects).shape} large or small?`,
    pattern: new RegExp(`^Is the ${SHAPE} large or small`),
    answer: (scene, [, shape]) => {
      const o = objectWith(scene, shape!);
      return o ? `The ${objectName(o)} is ${o.size}.` : noShape(shape!);
    },
  },
  {
    name: 'inventory',
    ask: (_, pick) => pick(['What shapes can you see in the image?', 'What shapes are in the picture?']),
    pattern: /^What shapes (?:can you see|are in)/,
    answer: (scene) => `I can see ${inventory(scene.objects, true)}.`,
  },
  {
    name: 'extreme',
    ask: (scene, pick) =>
      other(scene) && leftToRight(scene) ? `Which shape is furthest to the ${pick(['left', 'right'])}?` : undefined,
    pattern: /^Which shape is furthest to the (left|right)/,
    answer: (scene, [, side]) => {
      const order = leftToRight(scene);
      if (!order) return `The shapes are too close to each other to say which is furthest to the ${side}.`;
      const o = side === 'left' ? order[0]! : order[order.length - 1]!;
      return `${capitalise(named(o))} is furthest to the ${side}.`;
    },
  },
  {
    name: 'same-colour',
    ask: (scene) => (other(scene) ? 'Are all the shapes the same colour?' : undefined),
    pattern: /^Are all the shapes the same colou?r/,
    answer: (scene) => {
      const colours = [...new Set(scene.objects.map((o) => o.colour))];
      const all = scene.objects.length === 2 ? 'both shapes' : `all ${countPhrase(scene.objects.length)}`;
      if (colours.length === 1) return `Yes, ${all} are ${colours[0]}.`;
      return `No, they have ${NUMBER_WORDS[colours.length]} different colours: ${listPhrase(colours)}.`;
    },
  },
];

/** The template that reads `question`, with its match, or undefined. */
export function recognise(question: string): { template: Template; match: RegExpExecArray } | undefined {
  for (const template of [...TEMPLATES, ...COMPLEX_TEMPLATES]) {
    const match = template.pattern.exec(question);
    if (match) return { template, match };
  }
  return undefined;
}

/** A true answer to any question; unrecognised questions get the description. */
export function answerTruly(scene: Scene, question: string, pick: Pick): string {
  const found = recognise(question);
  return found ? found.template.answer(scene, found.match, pick) : description(scene, pick);
}
