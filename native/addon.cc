// The Node-API module: tensor handles, typed-array exchange, autograd entry points and
// runtime facts. Operators themselves go through ops.cc.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "handle.h"

namespace llava {

void init_ops(Napi::Env env, Napi::Object exports);

namespace {

const napi_type_tag kTensorTag = {0x6c6c617661747331ULL, 0x74656e736f720001ULL};  // "llavats1", "tensor"
std::atomic<int64_t> g_live_handles{0};
std::thread::id g_js_thread;

// Typed-array memory shared with a tensor stays alive through a napi_ref. A tensor's last
// reference can drop on a libtorch worker thread, or inside a GC finalizer, where that ref must
// not be deleted, so those releases wait here for the next call on the JS thread.
std::mutex g_deferred_mutex;
std::vector<napi_ref> g_deferred;
napi_env g_env = nullptr;
thread_local bool t_in_finalizer = false;

void release_ref(napi_ref ref) {
  if (std::this_thread::get_id() == g_js_thread && !t_in_finalizer) {
    napi_delete_reference(g_env, ref);
  } else {
    std::lock_guard<std::mutex> lock(g_deferred_mutex);
    g_deferred.push_back(ref);
  }
}

// A basic finalizer runs inside GC itself, not later from the event loop: a synchronous training
// loop never yields to the loop, and deferred finalizers would pile up for its whole length.
void finalize_holder(Napi::BasicEnv env, TensorHolder* holder) {
  t_in_finalizer = true;
  if (holder->tensor.defined()) g_live_handles--;
  if (holder->accounted_bytes) Napi::MemoryManagement::AdjustExternalMemory(env, -holder->accounted_bytes);
  delete holder;
  t_in_finalizer = false;
}

TensorHolder* holder_of(const Napi::Value& value) {
  if (!is_tensor_handle(value)) return nullptr;
  return value.As<Napi::External<TensorHolder>>().Data();
}

std::vector<at::Tensor> tensor_list(const Napi::Value& value, const char* what) {
  std::vector<at::Tensor> out;
  if (value.IsNull() || value.IsUndefined()) return out;
  auto arr = value.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(unwrap_tensor(arr.Get(i), what));
  return out;
}

std::vector<int64_t> int_list(const Napi::Value& value) {
  auto arr = value.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = arr.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

// fromTypedArray(array, shape, scalarType): shares the array's memory (as torch.from_numpy does).
Napi::Value from_typed_array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  drain_deferred_releases();
  auto array = info[0].As<Napi::TypedArray>();
  auto sizes = int_list(info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  return guarded(env, "tensor", [&]() -> Napi::Value {
    int64_t numel = 1;
    for (int64_t s : sizes) numel *= s;
    int64_t nbytes = numel * static_cast<int64_t>(c10::elementSize(dtype));
    if (nbytes != static_cast<int64_t>(array.ByteLength()))
      throw std::invalid_argument("shape needs " + std::to_string(nbytes) + " bytes of " + c10::toString(dtype) + " but the array holds " + std::to_string(array.ByteLength()));
    napi_ref ref;
    napi_create_reference(env, array, 1, &ref);
    void* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    at::Tensor t = at::from_blob(data, sizes, [ref](void*) { release_ref(ref); }, at::TensorOptions().dtype(dtype));
    return wrap_tensor(env, t);
  });
}

// toArrayBuffer(t): a copy of the tensor's elements, contiguous, on the CPU.
Napi::Value to_array_buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrap_tensor(info[0], "toTypedArray");
  return guarded(env, "toTypedArray", [&]() -> Napi::Value {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    auto buffer = Napi::ArrayBuffer::New(env, c.nbytes());
    if (c.nbytes()) std::memcpy(buffer.Data(), c.data_ptr(), c.nbytes());
    return buffer;
  });
}

Napi::Value shape_of(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrap_tensor(info[0], "shape");
  auto sizes = t.sizes();
  auto arr = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) arr.Set(i, Napi::Number::New(info.Env(), static_cast<double>(sizes[i])));
  return arr;
}

Napi::Value dtype_of(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(unwrap_tensor(info[0], "dtype").scalar_type()));
}

Napi::Value device_of(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrap_tensor(info[0], "device").device().str());
}

Napi::Value item_of(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrap_tensor(info[0], "item");
  return guarded(info.Env(), "item", [&]() -> Napi::Value { return Napi::Number::New(info.Env(), t.item().toDouble()); });
}

Napi::Value requires_grad(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrap_tensor(info[0], "requiresGrad");
  if (info.Length() > 1) guarded(info.Env(), "requiresGrad", [&] { t.set_requires_grad(info[1].ToBoolean().Value()); });
  return Napi::Boolean::New(info.Env(), t.requires_grad());
}

Napi::Value is_leaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrap_tensor(info[0], "isLeaf").is_leaf());
}

Napi::Value retain_grad(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrap_tensor(info[0], "retainGrad");
  guarded(info.Env(), "retainGrad", [&] { t.retain_grad(); });
  return info.Env().Undefined();
}

// gradOf(t) -> handle sharing the .grad tensor, or undefined before any backward.
Napi::Value grad_of(const Napi::CallbackInfo& info) {
  const at::Tensor& g = unwrap_tensor(info[0], "grad").grad();
  return g.defined() ? wrap_tensor(info.Env(), g) : info.Env().Undefined();
}

// setGrad(t, g | undefined): replaces .grad (undefined clears it, as zero_grad(set_to_none)).
Napi::Value set_grad(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrap_tensor(info[0], "setGrad");
  if (info[1].IsUndefined() || info[1].IsNull()) t.mutable_grad().reset();
  else t.mutable_grad() = unwrap_tensor(info[1], "setGrad");
  return info.Env().Undefined();
}

// assign(t, src): t's handle now holds src's data (any dtype or device, meta included) as a
// fresh leaf that keeps t's requires_grad: how a module's parameters are loaded or cast in place
// while every reference to them (fields, optimizers) stays valid, as PyTorch's load(assign=True).
Napi::Value assign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unwrap_tensor(info[0], "assign");
  TensorHolder* holder = holder_of(info[0]);
  const at::Tensor& src = unwrap_tensor(info[1], "assign");
  guarded(env, "assign", [&] {
    bool requires_grad = holder->tensor.requires_grad();
    holder->tensor = src.detach();
    if (requires_grad) holder->tensor.set_requires_grad(true);
  });
  int64_t bytes = holder->tensor.has_storage() ? static_cast<int64_t>(holder->tensor.storage().nbytes()) : 0;
  if (bytes != holder->accounted_bytes) Napi::MemoryManagement::AdjustExternalMemory(env, bytes - holder->accounted_bytes);
  holder->accounted_bytes = bytes;
  return env.Undefined();
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  dispose_handle(info[0]);
  return info.Env().Undefined();
}

Napi::Value is_disposed(const Napi::CallbackInfo& info) {
  TensorHolder* h = holder_of(info[0]);
  return Napi::Boolean::New(info.Env(), h == nullptr || !h->tensor.defined());
}

// backward(roots, grads | undefined, retainGraph, createGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto roots = tensor_list(info[0], "backward");
  auto grads = tensor_list(info[1], "backward");
  bool retain = info[2].ToBoolean().Value(), create = info[3].ToBoolean().Value();
  guarded(env, "backward", [&] { torch::autograd::backward(roots, grads, retain, create); });
  return env.Undefined();
}

// grad(outputs, inputs, gradOutputs | undefined, retainGraph, createGraph, allowUnused) -> (Tensor|undefined)[]
Napi::Value autograd_grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = tensor_list(info[0], "grad");
  auto inputs = tensor_list(info[1], "grad");
  auto grad_outputs = tensor_list(info[2], "grad");
  bool retain = info[3].ToBoolean().Value(), create = info[4].ToBoolean().Value(), allow_unused = info[5].ToBoolean().Value();
  auto grads = guarded(env, "grad", [&] {
    return torch::autograd::grad(outputs, inputs, grad_outputs, retain, create, allow_unused);
  });
  auto arr = Napi::Array::New(env, grads.size());
  for (size_t i = 0; i < grads.size(); ++i) arr.Set(i, grads[i].defined() ? wrap_tensor(env, grads[i]) : env.Undefined());
  return arr;
}

Napi::Value set_grad_enabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value manual_seed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value num_threads(const Napi::CallbackInfo& info) {
  if (info.Length() > 0) at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value live_handles(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live_handle_count()));
}

Napi::Value runtime_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH));
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("buildConfig", at::show_config());
  bool cuda = torch::cuda::is_available();
  out.Set("cudaAvailable", cuda);
  out.Set("cudaDeviceCount", cuda ? static_cast<int>(torch::cuda::device_count()) : 0);
  return out;
}

}  // namespace

int64_t live_handle_count() { return g_live_handles.load(); }

bool is_tensor_handle(const Napi::Value& value) {
  return value.IsExternal() && value.As<Napi::External<TensorHolder>>().CheckTypeTag(&kTensorTag);
}

Napi::Value wrap_tensor(Napi::Env env, at::Tensor tensor) {
  auto* holder = new TensorHolder{std::move(tensor), 0};
  // Count each storage once per handle: an over-estimate for views, but it keeps GC pressure
  // proportional to what unreleased handles may pin.
  holder->accounted_bytes = holder->tensor.defined() && holder->tensor.has_storage() ? static_cast<int64_t>(holder->tensor.storage().nbytes()) : 0;
  if (holder->accounted_bytes) Napi::MemoryManagement::AdjustExternalMemory(env, holder->accounted_bytes);
  g_live_handles++;
  auto external = Napi::External<TensorHolder>::New(env, holder, finalize_holder);
  external.TypeTag(&kTensorTag);
  return external;
}

at::Tensor& unwrap_tensor(const Napi::Value& value, const char* what) {
  TensorHolder* h = holder_of(value);
  if (h == nullptr) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a Tensor");
  if (!h->tensor.defined()) throw Napi::Error::New(value.Env(), std::string(what) + ": tensor was used after dispose()");
  return h->tensor;
}

void dispose_handle(const Napi::Value& value) {
  TensorHolder* h = holder_of(value);
  if (h == nullptr || !h->tensor.defined()) return;
  h->tensor.reset();
  g_live_handles--;
  if (h->accounted_bytes) Napi::MemoryManagement::AdjustExternalMemory(value.Env(), -h->accounted_bytes);
  h->accounted_bytes = 0;
}

void drain_deferred_releases() {
  std::vector<napi_ref> pending;
  {
    std::lock_guard<std::mutex> lock(g_deferred_mutex);
    pending.swap(g_deferred);
  }
  for (napi_ref ref : pending) napi_delete_reference(g_env, ref);
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  g_env = env;
  g_js_thread = std::this_thread::get_id();
  const std::pair<const char*, Napi::Function::Callback> functions[] = {
      {"fromTypedArray", from_typed_array}, {"toArrayBuffer", to_array_buffer}, {"shapeOf", shape_of},
      {"dtypeOf", dtype_of}, {"deviceOf", device_of}, {"itemOf", item_of}, {"requiresGrad", requires_grad},
      {"isLeaf", is_leaf}, {"retainGrad", retain_grad}, {"gradOf", grad_of}, {"setGrad", set_grad}, {"assign", assign},
      {"dispose", dispose}, {"isDisposed", is_disposed}, {"backward", backward}, {"autogradGrad", autograd_grad},
      {"setGradEnabled", set_grad_enabled}, {"manualSeed", manual_seed}, {"numThreads", num_threads},
      {"liveHandles", live_handles}, {"runtimeInfo", runtime_info},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
  init_ops(env, exports);
  return exports;
}

}  // namespace llava

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return llava::init(env, exports); }
NODE_API_MODULE(llava_torch, InitModule)
