// The complex-reasoning questions of the world (the data engine's third type and LLaVA-Bench's "complex"): each
// asks for a step beyond naming what is seen (ordering, grouping, what changes when a shape is removed, what
// stands out, why a picture is clear), leaves the visual details out of the question as the prompt asks, and is answered by first stating
// the relevant facts and then reasoning from them.

import {
  article,
  capitalise,
  countPhrase,
  inventory,
  leftToRight,
  listPhrase,
  named,
  NUMBER_WORDS,
  objectName,
  placeOf,
  type Pick,
} from './phrases.js';
import type { Template } from './truth.js';
import type { Scene, WorldObject } from './scene.js';
import { WORLD } from './config.js';

const many = (scene: Scene) => scene.objects.length > 1;

/** An object that differs from all others in colour or in size, with the reason. */
function standsOut(scene: Scene): { o: WorldObject; why: string } | undefined {
  for (const o of scene.objects) {
    const rest = scene.objects.filter((x) => x !== o);
    if (rest.every((x) => x.size !== o.size) && rest.length > 1)
      return { o, why: `it is the only ${o.size} shape, while the others are ${rest[0]!.size}` };
    if (rest.length > 0 && rest.every((x) => x.colour !== o.colour && x.colour === rest[0]!.colour))
      return {
        o,
        why: `it is ${o.colour}, while ${rest.length === 1 ? 'the other shape is' : 'all the other shapes are'} ${rest[0]!.colour}`,
      };
  }
  return undefined;
}

/** The scene stated first, as the prompt asks (facts, then reasoning), in one of several openings. */
function scenePart(scene: Scene, pick: Pick): string {
  const items = listPhrase(scene.objects.map((o) => `${article(objectName(o, true))} ${placeOf(o)}`));
  const be = scene.objects.length === 1 ? 'is' : 'are';
  return pick([
    `The image shows ${items}.`,
    `In the picture there ${be} ${items}.`,
    `Looking at the image, I can see ${items}.`,
  ]);
}

export const COMPLEX_TEMPLATES: Template[] = [
  {
    name: 'order',
    ask: (scene) =>
      many(scene) && leftToRight(scene)
        ? 'If you lined these shapes up from left to right, in what order would they come?'
        : undefined,
    pattern: /^If you lined these shapes up from left to right/,
    answer: (scene, _, pick) => {
      const order = leftToRight(scene);
      if (!order)
        return `${scenePart(scene, pick)} Some of them are so close that their order from left to right is not clear.`;
      const steps = order.map((o, i) => `${i === 0 ? 'first' : i === order.length - 1 ? 'last' : 'then'} ${named(o)}`);
      const reading = pick([
        `Reading the picture from its left edge to its right edge, the order is: ${listPhrase(steps)}.`,
        `Going from left to right, you meet ${listPhrase(steps)}.`,
      ]);
      const close = pick([
        `So the line would start with ${named(order[0]!)} and end with ${named(order[order.length - 1]!)}.`,
        `${capitalise(named(order[0]!))} would be at the start of the line and ${named(order[order.length - 1]!)} at its end.`,
      ]);
      return `${scenePart(scene, pick)} ${reading} ${close}`;
    },
  },
  {
    name: 'stand-out',
    ask: (scene) => (standsOut(scene) ? 'Which shape stands out the most in this image, and why?' : undefined),
    pattern: /^Which shape stands out the most/,
    answer: (scene, _, pick) => {
      const found = standsOut(scene);
      if (!found)
        return `${scenePart(scene, pick)} No single shape stands out: each shares its colour or its size with another.`;
      const o = named(found.o);
      return `${scenePart(scene, pick)} ${pick([
        `${capitalise(o)} stands out the most, because ${found.why}.`,
        `The shape that stands out is ${o}: ${found.why}.`,
      ])} ${pick(['That difference is what draws the eye first.', 'It is the first shape one notices.', ''])}`.trim();
    },
  },
  {
    name: 'remove',
    ask: (scene, pick) =>
      many(scene) ? `What would be left if the ${pick(scene.objects).shape} were taken away?` : undefined,
    pattern: new RegExp(`^What would be left if the (${WORLD.shapes.join('|')}) were taken away`),
    answer: (scene, [, shape], pick) => {
      const rest = scene.objects.filter((o) => o.shape !== shape);
      if (rest.length === scene.objects.length)
        return `${scenePart(scene, pick)} There is no ${shape} in it, so nothing would change.`;
      if (rest.length === 0)
        return `${scenePart(scene, pick)} The ${shape} is the only shape, so only the light background would be left.`;
      const left = `${countPhrase(rest.length)}: ${inventory(rest)}`;
      return `${scenePart(scene, pick)} ${pick([
        `Taking the ${shape} away leaves ${left}.`,
        `Without the ${shape}, the picture would keep ${left}.`,
      ])} ${pick([`That is one shape fewer than the ${countPhrase(scene.objects.length)} in the image now.`, ''])}`.trim();
    },
  },
  {
    name: 'groups',
    ask: (scene) => (many(scene) ? 'How could these shapes be sorted into groups by colour?' : undefined),
    pattern: /^How could these shapes be sorted into groups by colou?r/,
    answer: (scene, _, pick) => {
      const colours = [...new Set(scene.objects.map((o) => o.colour))];
      const groups = colours.map((c) => {
        const members = scene.objects.filter((o) => o.colour === c);
        return `${c}: ${listPhrase(members.map((o) => `the ${o.shape}`))}`;
      });
      const verdict =
        colours.length === scene.objects.length
          ? `every shape has its own colour, so each group is a single shape`
          : colours.length === 1
            ? 'they all share one colour, so they form a single group'
            : `some shapes share a colour`;
      const n = `${NUMBER_WORDS[colours.length]} ${colours.length === 1 ? 'group' : 'groups'}`;
      return `${scenePart(scene, pick)} ${pick([
        `Sorting by colour gives ${n} (${groups.join('; ')}): ${verdict}.`,
        `By colour, the shapes fall into ${n} (${groups.join('; ')}), because ${verdict}.`,
      ])}`;
    },
  },
  {
    name: 'single',
    ask: (scene) => (scene.objects.length === 1 ? 'Why is it easy to tell what this picture shows?' : undefined),
    pattern: /^Why is it easy to tell what this picture shows/,
    answer: (scene, _, pick) => {
      if (scene.objects.length !== 1)
        return `${scenePart(scene, pick)} Each shape is filled with one colour and clearly outlined against the light background.`;
      const o = scene.objects[0]!;
      return `${scenePart(scene, pick)} ${pick([
        'Nothing else is in the picture',
        'It is the only shape in the picture',
        'There is no other shape to look at',
      ])}, and ${pick([`its ${o.colour} colour stands out against the plain light background`, `the ${o.colour} fill is clear against the light background`])}, so ${pick(['there is nothing to confuse it with', 'the eye goes straight to it', 'it is recognised at a glance'])}.`;
    },
  },
];
