// See boundary.h: the one place where C++ exceptions become JS errors.
#include "boundary.h"

#include <c10/util/Exception.h>

#include <cmath>

#include "handle.h"

namespace llava {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// What a JS callback threw when it was not an Error (a string, a number, undefined).
std::string thrown_value(const Napi::Error& e) {
  try {
    return "threw " + Napi::Value(e.Value()).ToString().Utf8Value();
  } catch (const Napi::Error&) {
    return "threw a value that is not an Error";
  }
}

// "setGrad: takes 2 arguments, got 1"
CallError arity_error(const Entry& entry, size_t given) {
  std::string wanted = entry.max_args == kVariadic       ? "at least " + std::to_string(entry.min_args)
                       : entry.min_args == entry.max_args ? std::to_string(entry.min_args)
                                                          : std::to_string(entry.min_args) + " to " + std::to_string(entry.max_args);
  bool one = entry.min_args == 1 && (entry.max_args == 1 || entry.max_args == kVariadic);
  return CallError(std::string(entry.name) + ": takes " + wanted + (one ? " argument" : " arguments") + ", got " + std::to_string(given), true);
}

Napi::Value call_entry(const Napi::CallbackInfo& info) {
  const Entry& entry = *static_cast<const Entry*>(info.Data());
  Napi::Env env = info.Env();
  try {
    if (info.Length() < entry.min_args || info.Length() > entry.max_args) throw arity_error(entry, info.Length());
    return entry.fn(info);
  } catch (const CallError& e) {
    if (e.type_error) throw Napi::TypeError::New(env, e.what());
    throw Napi::Error::New(env, e.what());
  } catch (const Napi::Error& e) {
    // node-addon-api's own failures ("A number was expected") and exceptions thrown by JS
    // callbacks (a getter) do not name the call yet.
    std::string message = e.Message();
    if (starts_with(message, std::string(entry.name) + ":")) throw;
    if (message.empty()) message = thrown_value(e);
    throw Napi::Error::New(env, std::string(entry.name) + ": " + message);
  } catch (...) {
    try {
      rethrow_named(entry.name);
    } catch (const CallError& e) {
      throw Napi::Error::New(env, e.what());
    }
  }
}

}  // namespace

void export_entries(Napi::Env env, Napi::Object exports, const Entry* entries, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    void* data = const_cast<Entry*>(&entries[i]);
    exports.Set(entries[i].name, Napi::Function::New<call_entry>(env, entries[i].name, data));
  }
}

const char* call_name(const Napi::CallbackInfo& info) { return static_cast<const Entry*>(info.Data())->name; }

void rethrow_named(const std::string& context) {
  try {
    throw;
  } catch (const c10::Error& e) {
    throw CallError(context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw CallError(context + ": " + e.what());
  } catch (...) {
    throw CallError(context + ": unknown C++ exception");
  }
}

std::string type_name(const Napi::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsArray()) return "an array";
  if (value.IsTypedArray()) return "a typed array";
  if (is_tensor_handle(value)) return "a Tensor";
  if (value.IsExternal()) return "a native handle of another kind";
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_boolean: return "a boolean";
    case napi_number: return "the number " + Napi::Number(value.Env(), value).ToString().Utf8Value();
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    default: return "an object";
  }
}

int64_t to_integer(const Napi::Value& value, const std::string& where) {
  if (value.IsNumber()) {
    double d = value.As<Napi::Number>().DoubleValue();
    // 2^63 is the first double past int64's range.
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9223372036854775808.0) return static_cast<int64_t>(d);
  } else if (value.IsBigInt()) {
    bool lossless = true;
    int64_t v = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (lossless) return v;
  } else if (value.IsBoolean()) {
    return value.As<Napi::Boolean>().Value() ? 1 : 0;
  }
  throw CallError(where + ": expected an integer, got " + type_name(value), true);
}

double to_double(const Napi::Value& value, const std::string& where) {
  if (!value.IsNumber()) throw CallError(where + ": expected a number, got " + type_name(value), true);
  return value.As<Napi::Number>().DoubleValue();
}

std::string to_string(const Napi::Value& value, const std::string& where) {
  if (!value.IsString()) throw CallError(where + ": expected a string, got " + type_name(value), true);
  return value.As<Napi::String>().Utf8Value();
}

std::string argument(const Napi::CallbackInfo& info, const char* name) {
  return std::string(call_name(info)) + " argument '" + name + "'";
}

}  // namespace llava
