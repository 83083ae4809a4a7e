// ATen operators by schema name. Each is resolved through the dispatcher on first use and
// then called by index, so a call costs one Node-API crossing.
import { native, type OpResult } from './native.js';

export type OpCall = (...args: unknown[]) => OpResult;

function operator(qualifiedName: string, overload: string): OpCall {
  let id = -1;
  return (...args) => {
    if (id < 0) id = native.resolveOp(qualifiedName, overload);
    return native.callOp(id, ...args);
  };
}

export const aten = (name: string, overload = ''): OpCall => operator(`aten::${name}`, overload);
/** Operators the addon registers itself (native/linear_rows.cc), called the same way. */
export const llavaOp = (name: string, overload = ''): OpCall => operator(`llava::${name}`, overload);

/** The schema text of an operator, for error messages and exploration. */
export function schemaOf(name: string, overload = ''): string {
  return native.opSchema(native.resolveOp(`aten::${name}`, overload));
}
