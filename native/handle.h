// A tensor crosses into JavaScript as a type-tagged Napi::External that owns one at::Tensor.
// dispose() resets the tensor at once; the External's finalizer frees the holder when V8
// collects it, so a handle the program forgot is still freed, only later.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>

namespace llava {

struct TensorHolder {
  at::Tensor tensor;
  int64_t accounted_bytes = 0;  // reported to V8 as external memory, so GC feels native allocations
};

// Handles created and not yet disposed or collected (tests assert this stays flat).
int64_t live_handle_count();

Napi::Value wrap_tensor(Napi::Env env, at::Tensor tensor);
// Throws a JS TypeError naming `what` when `value` is not a live tensor handle.
at::Tensor& unwrap_tensor(const Napi::Value& value, const char* what);
bool is_tensor_handle(const Napi::Value& value);
void dispose_handle(const Napi::Value& value);

// Frees tensors whose last reference dropped on a non-JS thread (see addon.cc, from_typed_array).
void drain_deferred_releases();

// Runs `body`, turning libtorch and C++ errors into JS exceptions: a libtorch error must never
// abort the process.
template <typename F>
auto guarded(Napi::Env env, const char* context, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, std::string(context) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(context) + ": " + e.what());
  }
}

}  // namespace llava
