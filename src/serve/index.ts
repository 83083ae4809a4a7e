// Using a model: the processor (messages and images to model inputs, one-call answers) and the server.
export { LlavaProcessor, type ProcessorInput, type ProcessorOptions, type ModelInputs } from './processor.js';
export { type AnswerOptions } from './answer.js';
export { type ImageInput } from './image-input.js';
export { TextStream } from './text-stream.js';
