// The addon's c10d entry points (native/c10d.cc), typed. They live in the same addon as the
// tensor ops, so tensors cross as the same handles.
import { native, type Handle } from '../torch/native.js';

/** A rank's membership in a c10d process group (TCPStore + Gloo), owned by native code. */
export type GroupHandle = { readonly __group: unique symbol };
/** c10d's DDP Reducer over a list of parameters. */
export type ReducerHandle = { readonly __reducer: unique symbol };
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';

export interface NativeC10d {
  c10dInit(host: string, port: number, rank: number, worldSize: number, timeoutMs: number): Promise<GroupHandle>;
  c10dClose(group: GroupHandle): void;
  c10dAllReduce(group: GroupHandle, tensors: Handle[], op: ReduceOp, timeoutMs: number): Promise<void>;
  c10dBroadcast(group: GroupHandle, tensors: Handle[], root: number, timeoutMs: number): Promise<void>;
  c10dAllGather(group: GroupHandle, outputs: Handle[], input: Handle, timeoutMs: number): Promise<void>;
  c10dReduceScatter(group: GroupHandle, output: Handle, input: Handle, op: ReduceOp, timeoutMs: number): Promise<void>;
  c10dBarrier(group: GroupHandle, timeoutMs: number): Promise<void>;
  c10dDeadRanks(group: GroupHandle, windowMs: number): Promise<number[]>;
  c10dReducer(group: GroupHandle, params: Handle[], bucketBytes: number): ReducerHandle;
  c10dPrepareBackward(reducer: ReducerHandle): void;
}

export const c10d = native as unknown as NativeC10d;
