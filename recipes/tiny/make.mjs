// Writes the tiny recipes' model and data into tiny/ of the working directory (needs the compiled project:
// npx tsc -p .): a small random llava-hf checkpoint with LLaMA's tokenizer and 16 captioned / conversational
// image samples. The same builder the end-to-end tests use.
import { mkdirSync } from 'node:fs';
import { writeInstructionData, writeSmallLlava } from '../../dist/test/train/small-llava.js';

mkdirSync('tiny', { recursive: true });
writeSmallLlava('tiny/model');
await writeInstructionData('tiny', 16, 'caption');
await writeInstructionData('tiny', 16, 'conversation');
console.log('wrote tiny/model, tiny/images, tiny/caption.json, tiny/conversation.json');
