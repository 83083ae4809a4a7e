// Tensor handles and the per-environment state they live in (see handle.h).
#include "handle.h"

#include "boundary.h"

namespace llava {
namespace {

const napi_type_tag kTensorTag = {0x6c6c617661747331ULL, 0x74656e736f720001ULL};  // "llavats1", "tensor"
thread_local bool t_in_finalizer = false;

// A basic finalizer runs inside GC itself, not later from the event loop: a synchronous training
// loop never yields to the loop, and deferred finalizers would pile up for its whole length.
void finalize_holder(Napi::BasicEnv env, TensorHolder* holder) {
  t_in_finalizer = true;
  if (holder->tensor.defined()) holder->state->live_handles--;
  unaccount(env, holder);
  delete holder;
  t_in_finalizer = false;
}

}  // namespace

void account(Napi::BasicEnv env, TensorHolder* holder) {
  const at::Tensor& t = holder->tensor;
  if (!t.defined() || !t.has_storage()) return;
  holder->storage = t.storage().unsafeGetStorageImpl();
  auto& entry = holder->state->storages[holder->storage];
  if (entry.handles++ > 0) return;
  entry.bytes = static_cast<int64_t>(t.storage().nbytes());
  if (entry.bytes) Napi::MemoryManagement::AdjustExternalMemory(env, entry.bytes);
}

void unaccount(Napi::BasicEnv env, TensorHolder* holder) {
  if (!holder->storage) return;
  auto& storages = holder->state->storages;
  auto entry = storages.find(holder->storage);
  holder->storage = nullptr;
  if (entry == storages.end() || --entry->second.handles > 0) return;
  const int64_t bytes = entry->second.bytes;
  storages.erase(entry);
  if (bytes) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
}

void init_env_state(Napi::Env env) {
  auto state = std::make_shared<EnvState>();
  state->env = env;
  state->js_thread = std::this_thread::get_id();
  env.SetInstanceData(new std::shared_ptr<EnvState>(std::move(state)));
}

const std::shared_ptr<EnvState>& env_state(Napi::BasicEnv env) { return *env.GetInstanceData<std::shared_ptr<EnvState>>(); }

bool is_tensor_handle(const Napi::Value& value) {
  return value.IsExternal() && value.As<Napi::External<TensorHolder>>().CheckTypeTag(&kTensorTag);
}

TensorHolder* holder_of(const Napi::Value& value) {
  return is_tensor_handle(value) ? value.As<Napi::External<TensorHolder>>().Data() : nullptr;
}

Napi::Value wrap_tensor(Napi::Env env, at::Tensor tensor) {
  auto* holder = new TensorHolder{std::move(tensor), env_state(env)};
  account(env, holder);
  holder->state->live_handles++;
  auto external = Napi::External<TensorHolder>::New(env, holder, finalize_holder);
  external.TypeTag(&kTensorTag);
  return external;
}

at::Tensor& unwrap_tensor(const Napi::Value& value, const std::string& what) {
  TensorHolder* h = holder_of(value);
  if (h == nullptr) throw CallError(what + ": expected a Tensor, got " + type_name(value), true);
  if (!h->tensor.defined()) throw CallError(what + ": tensor was used after dispose()");
  return h->tensor;
}

// Typed-array memory shared with a tensor stays alive through a napi_ref. A tensor's last
// reference can drop on a libtorch worker thread, or inside a GC finalizer, where that ref must
// not be deleted, so those releases wait for the next call on the environment's JS thread.
void release_ref(const std::shared_ptr<EnvState>& state, napi_ref ref) {
  if (std::this_thread::get_id() == state->js_thread && !t_in_finalizer) {
    napi_delete_reference(state->env, ref);
  } else {
    std::lock_guard<std::mutex> lock(state->deferred_mutex);
    state->deferred.push_back(ref);
  }
}

void drain_deferred_releases(EnvState& state) {
  std::vector<napi_ref> pending;
  {
    std::lock_guard<std::mutex> lock(state.deferred_mutex);
    pending.swap(state.deferred);
  }
  for (napi_ref ref : pending) napi_delete_reference(state.env, ref);
}

}  // namespace llava
