// A safe unpickler: Python's pickle virtual machine (protocols 2 to 4), restricted to building plain data.
// A pickle names the globals (module.attribute) it calls; Python's pickle imports and calls whatever it is
// told, which is how a .bin file runs code. Here every GLOBAL goes through the caller's findGlobal, which
// returns a JS stand-in for the few it knows and refuses the rest, so nothing a file names is ever executed.
//
// Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number, str -> string,
// bytes -> Uint8Array, tuple and list -> arrays (tuples frozen), dict -> PyDict.

/** A Python dict (or OrderedDict): insertion-ordered, any keys; `state` holds what BUILD set on it (e.g. `_metadata`). */
export class PyDict {
  readonly items = new Map<unknown, unknown>();
  state: unknown = undefined;
}

/** What a GLOBAL resolves to when REDUCE calls it: a function of the argument tuple. */
export type PyCallable = (args: readonly unknown[]) => unknown;

export interface UnpicklerHooks {
  /** The stand-in for `module.name`; throws (with a message saying why) to refuse it. */
  findGlobal(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID) stands for. */
  persistentLoad(pid: unknown): unknown;
  /** BUILD on an object that is not a PyDict: sets `state` on it, or throws. */
  build?(obj: unknown, state: unknown): void;
}

/** A malformed or refused pickle; `position` is the byte offset of the opcode being run. */
export class PickleError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`byte ${position}: ${message}`);
    this.name = 'PickleError';
  }
}

/** Runs the pickle in `bytes` and returns the object it builds (what pickle.loads would). */
export function unpickle(bytes: Uint8Array, hooks: UnpicklerHooks): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (message: string): never => {
    throw new PickleError(message, opAt);
  };
  const take = (n: number): number => {
    if (pos + n > bytes.byteLength)
      fail(
        `opcode 0x${op.toString(16)} needs ${n} more bytes, but the pickle ends at ${bytes.byteLength} (truncated?)`,
      );
    pos += n;
    return pos - n;
  };
  const u8 = () => dv.getUint8(take(1));
  const u16 = () => dv.getUint16(take(2), true);
  const u32 = () => dv.getUint32(take(4), true);
  const u64 = () => {
    const n = dv.getBigUint64(take(8), true);
    return n > BigInt(bytes.byteLength) ? fail(`length ${n} exceeds the pickle's size`) : Number(n);
  };
  const raw = (n: number) => bytes.slice(take(n), pos);
  const utf8 = (n: number) => {
    const text = bytes.subarray(take(n), pos);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(text);
    } catch {
      return fail(`a ${n}-byte string is not valid UTF-8`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('GLOBAL without a newline-terminated name (truncated?)');
    return utf8(end - pos + 1).slice(0, -1);
  };
  // MARK starts a new frame: what lies below the last mark is out of reach until it is popped.
  const depth = () => stack.length - (marks.length > 0 ? marks[marks.length - 1] : 0);
  const pop = (): unknown => (depth() > 0 ? stack.pop() : fail('stack underflow'));
  const top = (): unknown => (depth() > 0 ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = (): unknown[] => {
    const at = marks.pop();
    if (at === undefined) fail('no MARK to pop to');
    return stack.splice(at!);
  };
  const dictAt = (value: unknown): PyDict =>
    value instanceof PyDict ? value : fail(`SETITEM(S) on a ${typeName(value)}, not a dict`);
  const listAt = (value: unknown): unknown[] =>
    Array.isArray(value) && !Object.isFrozen(value) ? value : fail(`APPEND(S) on a ${typeName(value)}, not a list`);
  const setItems = (dict: PyDict, flat: unknown[]) => {
    if (flat.length % 2 !== 0) fail('SETITEMS with an odd number of keys and values');
    for (let i = 0; i < flat.length; i += 2) dict.items.set(flat[i], flat[i + 1]);
  };
  const memoGet = (index: number) =>
    memo.has(index) ? memo.get(index) : fail(`memo entry ${index} is read before it is written`);
  const tuple = (items: unknown[]) => Object.freeze(items);

  while (true) {
    opAt = pos;
    if (pos >= bytes.byteLength) fail('the pickle ends without STOP (truncated?)');
    op = u8();
    try {
      switch (op) {
        case 0x80: {
          const protocol = u8();
          if (protocol > 5) fail(`pickle protocol ${protocol} is newer than this reader knows (up to 5)`);
          break;
        } // PROTO
        case 0x95:
          take(8);
          break; // FRAME: a length hint only
        case 0x2e:
          return pop(); // STOP
        case 0x28:
          marks.push(stack.length);
          break; // MARK
        case 0x30:
          pop();
          break; // POP
        case 0x31:
          popMark();
          break; // POP_MARK
        case 0x32:
          stack.push(top());
          break; // DUP
        case 0x4e:
          stack.push(null);
          break; // NONE
        case 0x88:
          stack.push(true);
          break; // NEWTRUE
        case 0x89:
          stack.push(false);
          break; // NEWFALSE
        case 0x4a:
          stack.push(dv.getInt32(take(4), true));
          break; // BININT
        case 0x4b:
          stack.push(u8());
          break; // BININT1
        case 0x4d:
          stack.push(u16());
          break; // BININT2
        case 0x8a:
          stack.push(littleEndianInt(raw(u8())));
          break; // LONG1
        case 0x8b:
          stack.push(littleEndianInt(raw(u32())));
          break; // LONG4
        case 0x47:
          stack.push(dv.getFloat64(take(8), false));
          break; // BINFLOAT (big-endian)
        case 0x58:
          stack.push(utf8(u32()));
          break; // BINUNICODE
        case 0x8c:
          stack.push(utf8(u8()));
          break; // SHORT_BINUNICODE
        case 0x8d:
          stack.push(utf8(u64()));
          break; // BINUNICODE8
        case 0x55:
          stack.push(latin1(raw(u8())));
          break; // SHORT_BINSTRING (a Python 2 str)
        case 0x54:
          stack.push(latin1(raw(u32())));
          break; // BINSTRING
        case 0x43:
          stack.push(raw(u8()));
          break; // SHORT_BINBYTES
        case 0x42:
          stack.push(raw(u32()));
          break; // BINBYTES
        case 0x8e:
          stack.push(raw(u64()));
          break; // BINBYTES8
        case 0x29:
          stack.push(tuple([]));
          break; // EMPTY_TUPLE
        case 0x74:
          stack.push(tuple(popMark()));
          break; // TUPLE
        case 0x85:
          stack.push(tuple([pop()]));
          break; // TUPLE1
        case 0x86: {
          const b = pop();
          stack.push(tuple([pop(), b]));
          break;
        } // TUPLE2
        case 0x87: {
          const c = pop();
          const b = pop();
          stack.push(tuple([pop(), b, c]));
          break;
        } // TUPLE3
        case 0x5d:
          stack.push([]);
          break; // EMPTY_LIST
        case 0x6c:
          stack.push(popMark());
          break; // LIST
        case 0x61: {
          const v = pop();
          listAt(top()).push(v);
          break;
        } // APPEND
        case 0x65: {
          const items = popMark();
          listAt(top()).push(...items);
          break;
        } // APPENDS
        case 0x7d:
          stack.push(new PyDict());
          break; // EMPTY_DICT
        case 0x64: {
          const d = new PyDict();
          setItems(d, popMark());
          stack.push(d);
          break;
        } // DICT
        case 0x73: {
          const v = pop();
          const k = pop();
          dictAt(top()).items.set(k, v);
          break;
        } // SETITEM
        case 0x75: {
          const flat = popMark();
          setItems(dictAt(top()), flat);
          break;
        } // SETITEMS
        case 0x63: {
          const module = line();
          stack.push(hooks.findGlobal(module, line()));
          break;
        } // GLOBAL
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          stack.push(hooks.findGlobal(module as string, name as string));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = pop();
          const callable = pop();
          if (typeof callable !== 'function') fail(`REDUCE calls a ${typeName(callable)}, which is not callable`);
          if (!Array.isArray(args)) fail(`REDUCE with arguments that are a ${typeName(args)}, not a tuple`);
          stack.push((callable as PyCallable)(args as unknown[]));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          const obj = top();
          if (obj instanceof PyDict) obj.state = state;
          else if (hooks.build !== undefined) hooks.build(obj, state);
          else fail(`BUILD on a ${typeName(obj)}`);
          break;
        }
        case 0x51:
          stack.push(hooks.persistentLoad(pop()));
          break; // BINPERSID
        case 0x71:
          memo.set(u8(), top());
          break; // BINPUT
        case 0x72:
          memo.set(u32(), top());
          break; // LONG_BINPUT
        case 0x94:
          memo.set(memo.size, top());
          break; // MEMOIZE
        case 0x68:
          stack.push(memoGet(u8()));
          break; // BINGET
        case 0x6a:
          stack.push(memoGet(u32()));
          break; // LONG_BINGET
        default:
          fail(
            `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` (${JSON.stringify(String.fromCharCode(op))})` : ''}`,
          );
      }
    } catch (err) {
      if (err instanceof PickleError) throw err;
      throw new PickleError((err as Error).message, opAt);
    }
  }
}

/** A two's-complement little-endian integer (LONG1/LONG4): a number when exact, else a bigint. */
function littleEndianInt(b: Uint8Array): number | bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  if (b.length > 0 && b[b.length - 1] & 0x80) n -= 1n << BigInt(8 * b.length);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** A short description of a value for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (typeof v === 'function') return `callable ${v.name}`;
  if (typeof v === 'object') return v.constructor.name;
  return typeof v;
}
