// One stop signal (Ctrl-C) for many requests in flight. A listener per request on the shared
// signal puts `concurrency` listeners on it at once, and Node warns past 10
// (MaxListenersExceededWarning); a group holds the signal's only listener and aborts, in turn,
// the per-request controllers that are still in flight.

export class AbortGroup {
  private readonly members = new Set<AbortController>();

  constructor(readonly signal: AbortSignal) {
    signal.addEventListener(
      'abort',
      () => {
        for (const member of this.members) member.abort(signal.reason);
      },
      { once: true },
    );
  }

  /** A controller aborted with the group's signal; `leave` it when its request is done. */
  join(): AbortController {
    const member = new AbortController();
    if (this.signal.aborted) member.abort(this.signal.reason);
    else this.members.add(member);
    return member;
  }

  leave(member: AbortController): void {
    this.members.delete(member);
  }
}
