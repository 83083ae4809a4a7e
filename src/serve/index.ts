// Using a model: the processor (messages and images to model inputs, one-call answers), the continuous-batching
// engine and the OpenAI/Ollama server built on it.
export { LlavaProcessor, type ProcessorInput, type ProcessorOptions, type ModelInputs } from './processor.js';
export { type AnswerOptions } from './answer.js';
export { type ImageInput } from './image-input.js';
export { TextStream } from './text-stream.js';
export { BatchEngine, QueueFullError, type EngineOptions, type EngineRequest, type EngineResult } from './engine.js';
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export { type ServeContext } from './chat-job.js';
export { loadModelDir, type LoadedModel } from './load-model.js';
