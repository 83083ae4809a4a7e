// A tensor crosses into JavaScript as a type-tagged Napi::External that owns one at::Tensor.
// dispose() resets the tensor at once; the External's finalizer frees the holder when V8
// collects it, so a handle the program forgot is still freed, only later.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace llava {

// What the addon keeps per Node environment (the main thread, and each worker thread that loads
// the addon), held as the environment's instance data. Nothing is process-global, so threads
// never see each other's state: each environment runs on one thread, and only `deferred` is
// reached from others (a tensor's last reference can drop on a libtorch thread).
struct EnvState {
  napi_env env;
  std::thread::id js_thread;
  int64_t live_handles = 0;  // handles created and not yet disposed or collected
  std::mutex deferred_mutex;
  std::vector<napi_ref> deferred;  // see drain_deferred_releases()
  std::vector<c10::OperatorHandle> ops;  // resolveOp's ids index this (ops.cc)
  // Storages reported to V8 as external memory, each once however many handles view it: the handles
  // sharing it and the bytes reported (handle.cc).
  struct Accounted {
    int64_t handles;
    int64_t bytes;
  };
  std::unordered_map<const void*, Accounted> storages;
};

// Creates the environment's state; called once by the module's init.
void init_env_state(Napi::Env env);
// The environment's state. Tensor holders and typed-array releases share ownership of it, so it
// outlives whatever order Node tears an environment down in.
const std::shared_ptr<EnvState>& env_state(Napi::BasicEnv env);

struct TensorHolder {
  at::Tensor tensor;
  std::shared_ptr<EnvState> state;
  const void* storage = nullptr;  // the storage this handle counts in state->storages, if any
};

// Reports the handle's storage to V8 as external memory, so GC feels native allocations: once per storage, so that
// views (a KV cache's per-layer windows, a weight's slices) add nothing. Counted per view, a decode step's few dozen
// transient views make V8 collect at every layer (a batch-8 step over a 1024-position cache took 3.5x as long).
// unaccount() undoes it; call it before the handle's tensor changes or goes.
void account(Napi::BasicEnv env, TensorHolder* holder);
void unaccount(Napi::BasicEnv env, TensorHolder* holder);

Napi::Value wrap_tensor(Napi::Env env, at::Tensor tensor);
// Throws a CallError (TypeError) "<what>: expected a Tensor, got ..." when `value` is not a
// tensor handle, and "<what>: tensor was used after dispose()" when it was disposed.
at::Tensor& unwrap_tensor(const Napi::Value& value, const std::string& what);
bool is_tensor_handle(const Napi::Value& value);
TensorHolder* holder_of(const Napi::Value& value);  // nullptr when not a tensor handle

// Releases the reference that keeps a typed array alive under a tensor sharing its memory: now
// on the environment's JS thread, else at the next drain_deferred_releases() there.
void release_ref(const std::shared_ptr<EnvState>& state, napi_ref ref);
void drain_deferred_releases(EnvState& state);

}  // namespace llava
