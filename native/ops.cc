// Calls any ATen operator by schema through the c10 dispatcher (the boxed path TorchScript
// uses), so autograd, type promotion and device dispatch are libtorch's own and one binding
// serves every op. JS arguments are converted by each argument's schema type; missing trailing
// arguments take the schema's defaults.
#include <ATen/core/dispatch/Dispatcher.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "boundary.h"
#include "handle.h"

namespace llava {
namespace {

std::string describe(const c10::FunctionSchema& schema, const c10::Argument& arg) {
  return schema.name() + (schema.overload_name().empty() ? "" : "." + schema.overload_name()) +
         " argument '" + arg.name() + "' (" + arg.type()->str() + ")";
}

// A JS number is an integral Scalar when it has no fraction, as a Python int literal would be:
// int_tensor * 2 stays int64, float_tensor * 2 stays float32, int_tensor * 2.5 promotes.
c10::Scalar to_scalar(const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsBigInt()) return c10::Scalar(to_integer(v, where));
  double d = to_double(v, where);
  if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15) return c10::Scalar(static_cast<int64_t>(d));
  return c10::Scalar(d);
}

c10::IValue to_ivalue(const Napi::Value& v, const c10::TypePtr& type, const std::string& where);

c10::IValue to_list(const Napi::Value& v, const c10::TypePtr& elem, const std::string& where) {
  if (!v.IsArray()) {
    // int[] parameters accept a single int, as PyTorch's `sum(dim=1)` does.
    if (elem->kind() == c10::TypeKind::IntType || elem->kind() == c10::TypeKind::SymIntType) return c10::IValue(std::vector<int64_t>{to_integer(v, where)});
    throw std::invalid_argument(where + ": expected an array");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = to_integer(arr.Get(i), where);
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = to_double(arr.Get(i), where);
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; ++i) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(unwrap_tensor(arr.Get(i), where));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {  // Tensor?[] (index)
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(unwrap_tensor(e, where));
      }
      return c10::IValue(out);
    }
    default:
      throw std::invalid_argument(where + ": unsupported list element type " + elem->str());
  }
}

c10::IValue to_ivalue(const Napi::Value& v, const c10::TypePtr& type, const std::string& where) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return unwrap_tensor(v, where);
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return to_ivalue(v, type->expectRef<c10::OptionalType>().getElementType(), where);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return to_integer(v, where);
    case c10::TypeKind::FloatType:
      return to_double(v, where);
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) throw std::invalid_argument(where + ": expected a boolean");
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType:
      return to_scalar(v, where);
    case c10::TypeKind::StringType:
      return to_string(v, where);
    case c10::TypeKind::DeviceObjType:
      return c10::Device(to_string(v, where + " (a device such as 'cpu' or 'cuda:0')"));
    case c10::TypeKind::ListType:
      return to_list(v, type->expectRef<c10::ListType>().getElementType(), where);
    case c10::TypeKind::GeneratorType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      throw std::invalid_argument(where + ": pass no generator; seed with manualSeed()");
    default:
      throw std::invalid_argument(where + ": unsupported parameter type " + type->str());
  }
}

// Argument `arg` from JS. The name a failed check starts with is built only when a check fails: a decode step makes
// ~300 calls, and building every argument's name on every call cost more than converting it. Every check's message
// is `where + ": ..."`, so converting with an empty `where` and prefixing the name gives the same text.
c10::IValue to_argument(const Napi::Value& v, const c10::FunctionSchema& schema, const c10::Argument& arg) {
  try {
    return to_ivalue(v, arg.type(), "");
  } catch (const CallError& e) {
    throw CallError(describe(schema, arg) + e.what(), e.type_error);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(describe(schema, arg) + e.what());
  }
}

Napi::Value from_ivalue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrap_tensor(env, v.toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isTensorList()) {
    auto list = v.toTensorVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, wrap_tensor(env, list[i]));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) arr.Set(i, from_ivalue(env, elems[i]));
    return arr;
  }
  throw std::invalid_argument("unsupported return type " + v.tagKind());
}

// The operator behind an id from resolveOp, in this environment's table.
const c10::OperatorHandle& op_of(const Napi::CallbackInfo& info) {
  // Ids come from resolveOp: the message is built only for one that is not a number.
  const int64_t id = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : to_integer(info[0], argument(info, "id"));
  const auto& ops = env_state(info.Env())->ops;
  if (id < 0 || id >= static_cast<int64_t>(ops.size()))
    throw CallError(argument(info, "id") + ": " + std::to_string(id) + " is no operator id from resolveOp (" + std::to_string(ops.size()) + " resolved)");
  return ops[id];
}

// resolveOp(name, overload) -> id: looks the schema up once; calls then index a vector.
Napi::Value resolve_op(const Napi::CallbackInfo& info) {
  std::string name = to_string(info[0], argument(info, "name"));
  std::string overload = to_string(info[1], argument(info, "overload"));
  auto op = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!op) throw CallError(std::string(call_name(info)) + ": unknown operator " + name + (overload.empty() ? "" : "." + overload) + " in this libtorch");
  auto& ops = env_state(info.Env())->ops;
  ops.push_back(*op);
  return Napi::Number::New(info.Env(), static_cast<double>(ops.size() - 1));
}

Napi::Value op_schema(const Napi::CallbackInfo& info) {
  std::ostringstream s;
  s << op_of(info).schema();
  return Napi::String::New(info.Env(), s.str());
}

// callOp(id, ...args): converts args by schema, calls boxed, returns one value or an array.
// Errors name the operator ("aten::mm: ..."), not callOp.
Napi::Value call_op(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  drain_deferred_releases(*env_state(env));
  const c10::OperatorHandle& op = op_of(info);
  const c10::FunctionSchema& schema = op.schema();
  const auto& args = schema.arguments();
  size_t given = info.Length() - 1;
  return guarded(schema.name(), [&]() -> Napi::Value {
    if (given > args.size()) throw std::invalid_argument("takes " + std::to_string(args.size()) + " arguments, got " + std::to_string(given));
    torch::jit::Stack stack;
    stack.reserve(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      Napi::Value v = i < given ? info[i + 1] : env.Undefined();
      if (v.IsUndefined() && args[i].default_value()) {
        stack.push_back(*args[i].default_value());
      } else if (v.IsUndefined() && args[i].type()->kind() != c10::TypeKind::OptionalType) {
        throw std::invalid_argument("missing " + describe(schema, args[i]));
      } else {
        stack.push_back(to_argument(v, schema, args[i]));
      }
    }
    op.callBoxed(&stack);
    if (stack.size() == 1) return from_ivalue(env, stack[0]);
    auto out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) out.Set(i, from_ivalue(env, stack[i]));
    return out;
  });
}

const Entry kEntries[] = {
    {"resolveOp", resolve_op, 2, 2},
    {"opSchema", op_schema, 1, 1},
    {"callOp", call_op, 1, kVariadic},
};

}  // namespace

void init_ops(Napi::Env env, Napi::Object exports) { export_entries(env, exports, kEntries, std::size(kEntries)); }

}  // namespace llava
