// Debian's libtorch-dev ships c10d's reducer.hpp but not the RPC autograd header it includes.
// reducer.hpp needs only these two names from it: a shared_ptr member (whose layout does not
// depend on the pointee) and the callback type it static_asserts against. build.mjs adds this
// folder with -idirafter, so a libtorch that has the real header uses that one.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
