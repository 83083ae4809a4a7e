// The Node-API module: tensor handles, typed-array exchange, autograd entry points and
// runtime facts. Operators themselves go through ops.cc. Every function here runs behind the
// boundary (boundary.h), so a libtorch error is a JS error naming the call, never an abort.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstring>
#include <vector>

#include "boundary.h"
#include "handle.h"

namespace llava {

void init_ops(Napi::Env env, Napi::Object exports);
void init_c10d(Napi::Env env, Napi::Object exports);

namespace {

at::Tensor& tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return unwrap_tensor(info[i], argument(info, name));
}

// An array of tensors; undefined or null is an empty list.
std::vector<at::Tensor> tensor_list_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::vector<at::Tensor> out;
  if (info[i].IsNull() || info[i].IsUndefined()) return out;
  std::string where = argument(info, name);
  if (!info[i].IsArray()) throw CallError(where + ": expected an array of Tensors, got " + type_name(info[i]), true);
  auto arr = info[i].As<Napi::Array>();
  for (uint32_t k = 0; k < arr.Length(); ++k) out.push_back(unwrap_tensor(arr.Get(k), where + "[" + std::to_string(k) + "]"));
  return out;
}

// fromTypedArray(array, shape, scalarType): shares the array's memory (as torch.from_numpy does).
Napi::Value from_typed_array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<EnvState>& state = env_state(env);
  drain_deferred_releases(*state);
  if (!info[0].IsTypedArray()) throw CallError(argument(info, "array") + ": expected a typed array, got " + type_name(info[0]), true);
  auto array = info[0].As<Napi::TypedArray>();
  if (!info[1].IsArray()) throw CallError(argument(info, "shape") + ": expected an array of integers, got " + type_name(info[1]), true);
  auto shape = info[1].As<Napi::Array>();
  std::vector<int64_t> sizes(shape.Length());
  for (uint32_t i = 0; i < shape.Length(); ++i) sizes[i] = to_integer(shape.Get(i), argument(info, "shape"));
  int64_t code = to_integer(info[2], argument(info, "scalarType"));
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions))
    throw CallError(argument(info, "scalarType") + ": " + std::to_string(code) + " is no libtorch ScalarType", true);
  auto dtype = static_cast<at::ScalarType>(code);
  int64_t numel = 1;
  for (int64_t s : sizes) {
    if (s < 0) throw CallError(argument(info, "shape") + ": invalid dimension " + std::to_string(s));
    numel *= s;
  }
  int64_t nbytes = numel * static_cast<int64_t>(c10::elementSize(dtype));
  if (nbytes != static_cast<int64_t>(array.ByteLength()))
    throw CallError(std::string(call_name(info)) + ": shape needs " + std::to_string(nbytes) + " bytes of " + c10::toString(dtype) + " but the array holds " + std::to_string(array.ByteLength()));
  void* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  napi_ref ref;
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, array, 1, &ref), Napi::Value());
  at::Tensor t;
  try {
    t = at::from_blob(data, sizes, [state, ref](void*) { release_ref(state, ref); }, at::TensorOptions().dtype(dtype));
  } catch (...) {
    napi_delete_reference(env, ref);
    throw;
  }
  return wrap_tensor(env, t);
}

// toArrayBuffer(t): a copy of the tensor's elements, contiguous, on the CPU.
Napi::Value to_array_buffer(const Napi::CallbackInfo& info) {
  at::Tensor c = tensor_arg(info, 0, "t").detach().to(at::kCPU).contiguous();
  auto buffer = Napi::ArrayBuffer::New(info.Env(), c.nbytes());
  if (c.nbytes()) std::memcpy(buffer.Data(), c.data_ptr(), c.nbytes());
  return buffer;
}

Napi::Value shape_of(const Napi::CallbackInfo& info) {
  auto sizes = tensor_arg(info, 0, "t").sizes();
  auto arr = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) arr.Set(i, Napi::Number::New(info.Env(), static_cast<double>(sizes[i])));
  return arr;
}

Napi::Value dtype_of(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(tensor_arg(info, 0, "t").scalar_type()));
}

Napi::Value device_of(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensor_arg(info, 0, "t").device().str());
}

Napi::Value item_of(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensor_arg(info, 0, "t").item().toDouble());
}

// requiresGrad(t, value?): reads, or sets and reads.
Napi::Value requires_grad(const Napi::CallbackInfo& info) {
  at::Tensor& t = tensor_arg(info, 0, "t");
  if (info.Length() > 1) t.set_requires_grad(info[1].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), t.requires_grad());
}

Napi::Value is_leaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensor_arg(info, 0, "t").is_leaf());
}

Napi::Value retain_grad(const Napi::CallbackInfo& info) {
  tensor_arg(info, 0, "t").retain_grad();
  return info.Env().Undefined();
}

// gradOf(t) -> handle sharing the .grad tensor, or undefined before any backward.
Napi::Value grad_of(const Napi::CallbackInfo& info) {
  const at::Tensor& g = tensor_arg(info, 0, "t").grad();
  return g.defined() ? wrap_tensor(info.Env(), g) : info.Env().Undefined();
}

// setGrad(t, g | undefined): replaces .grad (undefined clears it, as zero_grad(set_to_none)).
// As PyTorch's `.grad =` setter, g must match t's shape, dtype and device.
Napi::Value set_grad(const Napi::CallbackInfo& info) {
  at::Tensor& t = tensor_arg(info, 0, "t");
  if (info[1].IsUndefined() || info[1].IsNull()) {
    t.mutable_grad().reset();
    return info.Env().Undefined();
  }
  const at::Tensor& g = tensor_arg(info, 1, "grad");
  if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device())
    throw CallError(std::string(call_name(info)) + ": a grad of " + c10::toString(g.scalar_type()) + " " + c10::str(g.sizes()) + " on " + g.device().str() + " for a tensor of " + c10::toString(t.scalar_type()) + " " + c10::str(t.sizes()) + " on " + t.device().str());
  t.mutable_grad() = g;
  return info.Env().Undefined();
}

// assign(t, src): t's handle now holds src's data (any dtype or device, meta included) as a
// fresh leaf that keeps t's requires_grad: how a module's parameters are loaded or cast in place
// while every reference to them (fields, optimizers) stays valid, as PyTorch's load(assign=True).
Napi::Value assign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tensor_arg(info, 0, "t");
  TensorHolder* holder = holder_of(info[0]);
  const at::Tensor& src = tensor_arg(info, 1, "src");
  bool requires_grad = holder->tensor.requires_grad();
  unaccount(env, holder);
  holder->tensor = src.detach();
  if (requires_grad) holder->tensor.set_requires_grad(true);
  account(env, holder);
  return env.Undefined();
}

// dispose(t): frees the handle's reference now; disposing twice is harmless.
Napi::Value dispose(const Napi::CallbackInfo& info) {
  TensorHolder* h = holder_of(info[0]);
  if (h == nullptr) throw CallError(argument(info, "t") + ": expected a Tensor, got " + type_name(info[0]), true);
  if (!h->tensor.defined()) return info.Env().Undefined();
  h->tensor.reset();
  h->state->live_handles--;
  unaccount(info.Env(), h);
  return info.Env().Undefined();
}

Napi::Value is_disposed(const Napi::CallbackInfo& info) {
  TensorHolder* h = holder_of(info[0]);
  if (h == nullptr) throw CallError(argument(info, "t") + ": expected a Tensor, got " + type_name(info[0]), true);
  return Napi::Boolean::New(info.Env(), !h->tensor.defined());
}

// backward(roots, grads | undefined, retainGraph, createGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  auto roots = tensor_list_arg(info, 0, "roots");
  auto grads = tensor_list_arg(info, 1, "grads");
  torch::autograd::backward(roots, grads, info[2].ToBoolean().Value(), info[3].ToBoolean().Value());
  return info.Env().Undefined();
}

// autogradGrad(outputs, inputs, gradOutputs | undefined, retainGraph, createGraph, allowUnused) -> (Tensor|undefined)[]
Napi::Value autograd_grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = tensor_list_arg(info, 0, "outputs");
  auto inputs = tensor_list_arg(info, 1, "inputs");
  auto grad_outputs = tensor_list_arg(info, 2, "gradOutputs");
  auto grads = torch::autograd::grad(outputs, inputs, grad_outputs, info[3].ToBoolean().Value(),
                                     info[4].ToBoolean().Value(), info[5].ToBoolean().Value());
  auto arr = Napi::Array::New(env, grads.size());
  for (size_t i = 0; i < grads.size(); ++i) arr.Set(i, grads[i].defined() ? wrap_tensor(env, grads[i]) : env.Undefined());
  return arr;
}

// setGradEnabled(enabled) -> previous. Grad mode is libtorch's per thread, so per environment.
Napi::Value set_grad_enabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value manual_seed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(to_integer(info[0], argument(info, "seed"))));
  return info.Env().Undefined();
}

// numThreads(set?) -> libtorch's intra-op thread count.
Napi::Value num_threads(const Napi::CallbackInfo& info) {
  if (info.Length() > 0) {
    int64_t n = to_integer(info[0], argument(info, "threads"));
    if (n < 1 || n > 65536) throw CallError(argument(info, "threads") + ": expected a thread count of at least 1, got " + std::to_string(n));
    at::set_num_threads(static_cast<int>(n));
  }
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value live_handles(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(env_state(info.Env())->live_handles));
}

// The bytes reported to V8 for live handles' storages (for tests; the sum is taken only here).
Napi::Value accounted_bytes(const Napi::CallbackInfo& info) {
  int64_t bytes = 0;
  for (const auto& entry : env_state(info.Env())->storages) bytes += entry.second.bytes;
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
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
  // OpenBLAS came in with libtorch (not into the global namespace), so it is found by name among what is loaded.
  for (const char* name : {"libblas.so.3", "libopenblas.so.0"}) {
    void* blas = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (!blas) continue;
    auto corename = reinterpret_cast<char* (*)()>(dlsym(blas, "openblas_get_corename"));
    if (corename) out.Set("openblasCore", std::string(corename()));
    dlclose(blas);
    if (corename) break;
  }
  return out;
}

const Entry kEntries[] = {
    {"fromTypedArray", from_typed_array, 3, 3},
    {"toArrayBuffer", to_array_buffer, 1, 1},
    {"shapeOf", shape_of, 1, 1},
    {"dtypeOf", dtype_of, 1, 1},
    {"deviceOf", device_of, 1, 1},
    {"itemOf", item_of, 1, 1},
    {"requiresGrad", requires_grad, 1, 2},
    {"isLeaf", is_leaf, 1, 1},
    {"retainGrad", retain_grad, 1, 1},
    {"gradOf", grad_of, 1, 1},
    {"setGrad", set_grad, 2, 2},
    {"assign", assign, 2, 2},
    {"dispose", dispose, 1, 1},
    {"isDisposed", is_disposed, 1, 1},
    {"backward", backward, 4, 4},
    {"autogradGrad", autograd_grad, 6, 6},
    {"setGradEnabled", set_grad_enabled, 1, 1},
    {"manualSeed", manual_seed, 1, 1},
    {"numThreads", num_threads, 0, 1},
    {"liveHandles", live_handles, 0, 0},
    {"accountedBytes", accounted_bytes, 0, 0},
    {"runtimeInfo", runtime_info, 0, 0},
};

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  init_env_state(env);
  export_entries(env, exports, kEntries, std::size(kEntries));
  init_ops(env, exports);
  init_c10d(env, exports);
  return exports;
}

}  // namespace llava

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return llava::init(env, exports); }
NODE_API_MODULE(llava_torch, InitModule)
