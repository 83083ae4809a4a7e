// A request the server refuses, with what OpenAI's API would answer: the status and
// {"error": {"message", "type", "param", "code"}}. Ollama's routes answer the same status with {"error": message}.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error',
    /** Extra response headers (Retry-After on 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  openaiBody(): object {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a field: `param` is the field's path in the body (e.g. `messages[1].content[0].image_url`). */
export const invalid = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, param, code);
