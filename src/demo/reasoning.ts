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

export const COMPLEX_TEMPLATES: Template[] = [
  {
    name: 'order',
    ask: (scene) =>
      many(scene) && leftToRight(scene)
        ? 'If you lined these shapes up from left to right, in what order would they come?'
        : undefined,
    pattern: /^If you lined these shapes up from left to right/,
    answer: (scene) => {
      const order = leftToRight(scene);
      if (!order)
        return `The image shows ${inventory(scene.objects)}, but some of them are so close that their order from left to right is not clear.`;
      const steps = order.map(
        (o, i) => `${i === 0 ? 'first' : i === order.length - 1 ? 'last' : 'then'} ${named(o)}, ${placeOf(o)}`,
      );
      return `Looking at where each shape sits, the image shows ${inventory(scene.objects)}. Reading the picture from its left edge to its right edge, the order is: ${listPhrase(steps)}. So the line would start with ${named(order[0]!)} and end with ${named(order[order.length - 1]!)}.`;
    },
  },
  {
    name: 'stand-out',
    ask: (scene) => (standsOut(scene) ? 'Which shape stands out the most in this image, and why?' : undefined),
    pattern: /^Which shape stands out the most/,
    answer: (scene) => {
      const found = standsOut(scene);
      if (!found)
        return `No single shape stands out: the image shows ${inventory(scene.objects, true)}, and each shares its colour or its size with another.`;
      return `The image shows ${inventory(scene.objects, true)}. ${capitalise(named(found.o))} stands out the most, because ${found.why}. It is ${placeOf(found.o)}, which makes it easy to find.`;
    },
  },
  {
    name: 'remove',
    ask: (scene, pick) =>
      many(scene) ? `What would be left if the ${pick(scene.objects).shape} were taken away?` : undefined,
    pattern: new RegExp(`^What would be left if the (${WORLD.shapes.join('|')}) were taken away`),
    answer: (scene, [, shape]) => {
      const rest = scene.objects.filter((o) => o.shape !== shape);
      if (rest.length === scene.objects.length)
        return `There is no ${shape} in the image, so nothing would change: the picture would still show ${inventory(rest)}.`;
      if (rest.length === 0)
        return `The ${shape} is the only shape in the image, so only the light background would be left.`;
      return `The image now has ${countPhrase(scene.objects.length)}: ${inventory(scene.objects)}. Taking the ${shape} away leaves ${countPhrase(rest.length)}: ${inventory(rest)}, with ${listPhrase(rest.map((o) => `${named(o)} ${placeOf(o)}`))}.`;
    },
  },
  {
    name: 'groups',
    ask: (scene) => (many(scene) ? 'How could these shapes be sorted into groups by colour?' : undefined),
    pattern: /^How could these shapes be sorted into groups by colou?r/,
    answer: (scene) => {
      const colours = [...new Set(scene.objects.map((o) => o.colour))];
      const groups = colours.map((c) => {
        const members = scene.objects.filter((o) => o.colour === c);
        return `${c}: ${listPhrase(members.map((o) => `the ${o.shape}`))}`;
      });
      const verdict =
        colours.length === scene.objects.length
          ? `every shape has its own colour, so each group holds one shape`
          : colours.length === 1
            ? 'they all share one colour, so they form a single group'
            : `some shapes share a colour`;
      return `The image shows ${inventory(scene.objects)}. Sorting by colour gives ${NUMBER_WORDS[colours.length]} ${colours.length === 1 ? 'group' : 'groups'} (${groups.join('; ')}): ${verdict}.`;
    },
  },
  {
    name: 'single',
    ask: (scene) => (scene.objects.length === 1 ? 'Why is it easy to tell what this picture shows?' : undefined),
    pattern: /^Why is it easy to tell what this picture shows/,
    answer: (scene) => {
      if (scene.objects.length !== 1)
        return `The image shows ${inventory(scene.objects, true)}, each in its own colour and clearly outlined against the light background.`;
      const o = scene.objects[0]!;
      return `The image shows a single shape: ${article(objectName(o, true))} ${placeOf(o)}. Nothing else is in the picture, and its ${o.colour} colour stands out against the plain light background, so there is nothing to confuse it with.`;
    },
  },
];
