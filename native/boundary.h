// The JS <-> C++ boundary. Every exported function is registered through export_entries(), which
// checks its argument count and runs it under one handler: any C++ exception (libtorch's
// c10::Error, std::exception, node-addon-api's own, anything) becomes a JS error whose message
// starts with the call's name. An exception that reached Node would abort the process.
#pragma once

#include <napi.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace llava {

// An error whose message already names the call: JS sees it unchanged (a TypeError when
// `type_error`). Argument checks and guarded() throw it.
class CallError : public std::runtime_error {
 public:
  explicit CallError(const std::string& message, bool type_error = false)
      : std::runtime_error(message), type_error(type_error) {}
  bool type_error;
};

constexpr size_t kVariadic = static_cast<size_t>(-1);

struct Entry {
  const char* name;  // the export's name, which starts every error message
  Napi::Value (*fn)(const Napi::CallbackInfo&);
  size_t min_args;
  size_t max_args;  // kVariadic: any number
};

// Sets each entry on `exports`. `entries` must outlive the environment (a static array).
void export_entries(Napi::Env env, Napi::Object exports, const Entry* entries, size_t count);

// The name of the entry being called (for messages of checks inside it).
const char* call_name(const Napi::CallbackInfo& info);

// Inside a catch block: rethrows the exception in flight as a CallError "context: what".
[[noreturn]] void rethrow_named(const std::string& context);

// Runs `body`, naming any libtorch or C++ error after `context`: a finer name than the entry's
// (an operator inside callOp).
template <typename F>
auto guarded(const std::string& context, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const CallError&) {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_named(context);
  }
}

// "a number", "an array", "null", "a Tensor", ...: what a check got instead.
std::string type_name(const Napi::Value& value);

// Checked conversions; `where` starts the message ("numThreads argument 'threads'").
int64_t to_integer(const Napi::Value& value, const std::string& where);
double to_double(const Napi::Value& value, const std::string& where);
std::string to_string(const Napi::Value& value, const std::string& where);

// "<call> argument '<name>'": the `where` of a check on an entry's own argument.
std::string argument(const Napi::CallbackInfo& info, const char* name);

}  // namespace llava
