// Generated ids to text pieces as they arrive. The whole continuation is decoded each time and only its new, settled
// suffix is emitted: a SentencePiece byte piece that starts a UTF-8 character decodes to U+FFFD until the rest of the
// character arrives, so text ending in U+FFFD waits; text that could be the start of a stop string waits until it is
// either the stop string (cut there, and the stream is done) or not.
import type { TextTokenizer } from '../text/tokenizer.js';

const REPLACEMENT = '\uFFFD';

export class TextStream {
  readonly ids: number[] = [];
  /** Characters of the decoded text already emitted. */
  #emitted = 0;
  #text = '';
  /** A stop string was seen: the text ends before it and nothing more is emitted. */
  stopped = false;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly stops: string[] = [],
  ) {}

  /** The text so far (without a stop string and what follows it). */
  get text(): string {
    return this.#text;
  }

  /** Adds one generated id; returns the text that became final with it (often ''). */
  push(id: number): string {
    if (this.stopped) return '';
    this.ids.push(id);
    return this.#advance(false);
  }

  /** At the end of generation: whatever was held back (an incomplete character stays as U+FFFD, as decode gives it). */
  finish(): string {
    return this.stopped ? '' : this.#advance(true);
  }

  #advance(final: boolean): string {
    const full = this.tokenizer.decode(this.ids, { skipSpecialTokens: true });
    const cut = this.#stopIndex(full);
    if (cut >= 0) {
      this.stopped = true;
      return this.#emit(full.slice(0, cut));
    }
    if (final) return this.#emit(full);
    let end = full.length;
    if (full.endsWith(REPLACEMENT)) end = full.length - 1;
    end = Math.min(end, full.length - this.#heldForStop(full));
    return this.#emit(full.slice(0, Math.max(end, this.#emitted)));
  }

  #emit(text: string): string {
    this.#text = text;
    const piece = text.slice(this.#emitted);
    this.#emitted = text.length;
    return piece;
  }

  /** Where the first stop string starts, or -1. */
  #stopIndex(full: string): number {
    let best = -1;
    for (const s of this.stops) {
      const i = full.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Length of the longest suffix of `full` that is a proper prefix of a stop string. */
  #heldForStop(full: string): number {
    let held = 0;
    for (const s of this.stops)
      for (let n = Math.min(s.length - 1, full.length); n > held; n--)
        if (full.endsWith(s.slice(0, n))) {
          held = n;
          break;
        }
    return held;
  }
}
