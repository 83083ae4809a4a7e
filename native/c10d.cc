// libtorch's c10d bound for JavaScript: a TCPStore rendezvous, a Gloo process group, its
// collectives, and the DDP Reducer. Nothing here communicates by itself; every byte goes through
// c10d. Collectives are enqueued on the JS thread (Gloo runs them on its own threads) and waited
// for on libuv's pool, so each returns a Promise and the JS thread stays free (backward runs while
// buckets are in flight). Errors, sync or async, are named after the call (boundary.h).
// The header hides Gloo behind the macro libtorch's own build defines; this libtorch exports it.
#define USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <thread>

#include "boundary.h"
#include "handle.h"

namespace llava {
namespace {

using std::chrono::milliseconds;

const napi_type_tag kGroupTag = {0x6c6c617661747331ULL, 0x63313064670001ULL};    // "llavats1", "c10dg"
const napi_type_tag kReducerTag = {0x6c6c617661747331ULL, 0x63313064720001ULL};  // "llavats1", "c10dr"
constexpr milliseconds kHeartbeat{250};

// One rank's membership: the store (rank 0 hosts its server), the Gloo group, and a heartbeat
// thread that bumps "llava/heartbeat/<rank>" in the store, so that after a failed collective the
// survivors can name the ranks whose counters stopped (deadRanks).
struct Group {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int world = 1;
  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;
  std::thread heartbeat;

  void start_heartbeat() {
    heartbeat = std::thread([this] {
      std::string key = "llava/heartbeat/" + std::to_string(rank);
      std::unique_lock<std::mutex> lock(mutex);
      while (!stopping) {
        try {
          store->add(key, 1);
        } catch (...) {
          return;  // the store host is gone: deadRanks reports it
        }
        cv.wait_for(lock, kHeartbeat, [this] { return stopping; });
      }
    });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    cv.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
  ~Group() { stop(); }
};
using GroupPtr = std::shared_ptr<Group>;

struct ReducerHolder {
  GroupPtr group;  // the Reducer holds the process group; the group must outlive it
  std::unique_ptr<c10d::Reducer> reducer;
};

// Runs `work` on libuv's pool and settles a Promise: resolved with `result(env)`, or rejected
// with an Error "<name>: <what c10d said>".
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::string name, std::function<void()> work,
                std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env, "llava-c10d"), deferred_(Napi::Promise::Deferred::New(env)), name_(std::move(name)),
        work_(std::move(work)), result_(std::move(result)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      try {
        work_();
      } catch (...) {
        rethrow_named(name_);
      }
    } catch (const CallError& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(result_ ? result_(Env()) : Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string name_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

Napi::Value run_async(Napi::Env env, std::string name, std::function<void()> work,
                      std::function<Napi::Value(Napi::Env)> result = nullptr) {
  auto* worker = new PromiseWorker(env, std::move(name), std::move(work), std::move(result));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

template <typename T>
T* tagged(const Napi::CallbackInfo& info, size_t i, const napi_type_tag& tag, const char* name, const char* kind) {
  Napi::Value v = info[i];
  if (!v.IsExternal() || !v.As<Napi::External<T>>().CheckTypeTag(&tag))
    throw CallError(argument(info, name) + ": expected a " + kind + ", got " + type_name(v), true);
  return v.As<Napi::External<T>>().Data();
}

GroupPtr& group_arg(const Napi::CallbackInfo& info) {
  GroupPtr& g = *tagged<GroupPtr>(info, 0, kGroupTag, "group", "process group");
  if (!g) throw CallError(argument(info, "group") + ": the process group was closed");
  return g;
}

milliseconds timeout_arg(const Napi::CallbackInfo& info, size_t i) {
  int64_t ms = to_integer(info[i], argument(info, "timeoutMs"));
  if (ms < 1) throw CallError(argument(info, "timeoutMs") + ": expected at least 1 ms, got " + std::to_string(ms));
  return milliseconds(ms);
}

std::vector<at::Tensor> tensors_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string where = argument(info, name);
  if (!info[i].IsArray()) throw CallError(where + ": expected an array of Tensors, got " + type_name(info[i]), true);
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) out.push_back(unwrap_tensor(arr.Get(k), where + "[" + std::to_string(k) + "]"));
  return out;
}

// Only CPU tensors: Gloo is the one backend this build binds (Debian's libtorch has no NCCL).
void check_cpu(const std::vector<at::Tensor>& ts, const Napi::CallbackInfo& info, const char* name) {
  for (const auto& t : ts)
    if (!t.device().is_cpu())
      throw CallError(argument(info, name) + ": a tensor on " + t.device().str() +
                      ", but NCCL is unavailable: this addon binds c10d's Gloo backend only, which needs CPU tensors");
}

// Waits for `work` within `timeout`, then runs `after` (on the pool thread).
Napi::Value settle(const Napi::CallbackInfo& info, c10::intrusive_ptr<c10d::Work> work, milliseconds timeout,
                   std::function<void()> after = nullptr) {
  std::string name = std::string(call_name(info));
  return run_async(info.Env(), name, [work, timeout, after, name] {
    try {
      work->wait(timeout);
    } catch (const c10::Error& e) {
      if (!work->isCompleted())
        throw std::runtime_error("did not complete within " + std::to_string(timeout.count()) + " ms");
      throw;
    }
    if (after) after();
  });
}

// "sum" | "avg" | "max" | "min". Gloo has no AVG: avg is a sum divided by the world size.
c10d::ReduceOp reduce_op(const Napi::CallbackInfo& info, size_t i, bool* average) {
  std::string op = to_string(info[i], argument(info, "op"));
  *average = op == "avg";
  if (op == "sum" || op == "avg") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  throw CallError(argument(info, "op") + ": expected 'sum', 'avg', 'max' or 'min', got '" + op + "'");
}

void finalize_group(Napi::BasicEnv, GroupPtr* g) { delete g; }
void finalize_reducer(Napi::BasicEnv, ReducerHolder* r) { delete r; }

// c10dInit(host, port, rank, worldSize, timeoutMs) -> Promise<group>: rank 0 serves the TCPStore
// and waits for every rank to join; then Gloo connects the full mesh through it.
Napi::Value c10d_init(const Napi::CallbackInfo& info) {
  std::string host = to_string(info[0], argument(info, "host"));
  int64_t port = to_integer(info[1], argument(info, "port"));
  if (port < 1 || port > 65535) throw CallError(argument(info, "port") + ": expected 1 to 65535, got " + std::to_string(port));
  int64_t world = to_integer(info[3], argument(info, "worldSize"));
  if (world < 1) throw CallError(argument(info, "worldSize") + ": expected at least 1, got " + std::to_string(world));
  int64_t rank = to_integer(info[2], argument(info, "rank"));
  if (rank < 0 || rank >= world)
    throw CallError(argument(info, "rank") + ": expected 0 to " + std::to_string(world - 1) + " in a world of " + std::to_string(world) + ", got " + std::to_string(rank));
  milliseconds timeout = timeout_arg(info, 4);
  auto group = std::make_shared<Group>();
  group->rank = static_cast<int>(rank);
  group->world = static_cast<int>(world);
  std::string where = std::string(call_name(info)) + ": rendezvous of " + std::to_string(world) + " ranks at " + host + ":" + std::to_string(port) + " (this is rank " + std::to_string(rank) + ") did not complete within " + std::to_string(timeout.count()) + " ms";
  return run_async(
      info.Env(), where,
      [group, host, port, timeout] {
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<uint16_t>(port);
        opts.isServer = group->rank == 0;
        opts.numWorkers = static_cast<size_t>(group->world);
        opts.waitWorkers = true;
        opts.timeout = timeout;
        group->store = c10::make_intrusive<c10d::TCPStore>(host, opts);
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                   : host == "127.0.0.1" || host == "localhost"
                                       ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                       : c10d::ProcessGroupGloo::createDefaultDevice());
        group->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, group->rank, group->world, options);
        group->start_heartbeat();
      },
      [group](Napi::Env env) -> Napi::Value {
        auto external = Napi::External<GroupPtr>::New(env, new GroupPtr(group), finalize_group);
        external.TypeTag(&kGroupTag);
        return external;
      });
}

// c10dClose(group): stops the heartbeat and releases the group (its threads end with it).
Napi::Value c10d_close(const Napi::CallbackInfo& info) {
  GroupPtr& g = *tagged<GroupPtr>(info, 0, kGroupTag, "group", "process group");
  if (g) g->stop();
  g.reset();
  return info.Env().Undefined();
}

// c10dAllReduce(group, tensors, op, timeoutMs) -> Promise: in place, over every rank.
Napi::Value c10d_all_reduce(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  auto tensors = tensors_arg(info, 1, "tensors");
  check_cpu(tensors, info, "tensors");
  bool average = false;
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduce_op(info, 2, &average);
  milliseconds timeout = timeout_arg(info, 3);
  auto work = g->pg->allreduce(tensors, opts);
  int world = g->world;
  return settle(info, work, timeout, average ? std::function<void()>([tensors, world] {
    for (const auto& t : tensors) t.div_(world);
  }) : nullptr);
}

// c10dBroadcast(group, tensors, root, timeoutMs) -> Promise: rank root's values everywhere.
Napi::Value c10d_broadcast(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  auto tensors = tensors_arg(info, 1, "tensors");
  check_cpu(tensors, info, "tensors");
  c10d::BroadcastOptions opts;
  opts.rootRank = static_cast<int64_t>(to_integer(info[2], argument(info, "root")));
  if (opts.rootRank < 0 || opts.rootRank >= g->world)
    throw CallError(argument(info, "root") + ": expected a rank below " + std::to_string(g->world) + ", got " + std::to_string(opts.rootRank));
  return settle(info, g->pg->broadcast(tensors, opts), timeout_arg(info, 3));
}

// c10dAllGather(group, outputs, input, timeoutMs) -> Promise: outputs[r] gets rank r's input.
Napi::Value c10d_all_gather(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  std::vector<std::vector<at::Tensor>> outputs{tensors_arg(info, 1, "outputs")};
  std::vector<at::Tensor> inputs{unwrap_tensor(info[2], argument(info, "input"))};
  check_cpu(outputs[0], info, "outputs");
  check_cpu(inputs, info, "input");
  if (static_cast<int>(outputs[0].size()) != g->world)
    throw CallError(argument(info, "outputs") + ": expected one tensor per rank (" + std::to_string(g->world) + "), got " + std::to_string(outputs[0].size()));
  return settle(info, g->pg->allgather(outputs, inputs), timeout_arg(info, 3));
}

// c10dReduceScatter(group, output, input, op, timeoutMs) -> Promise: input holds worldSize equal
// chunks (flattened); output gets the reduction of every rank's chunk number `rank`. Gloo has no
// reduce_scatter: an all-to-all sends chunk r to rank r, then the world's chunks are reduced here.
Napi::Value c10d_reduce_scatter(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  at::Tensor output = unwrap_tensor(info[1], argument(info, "output"));
  at::Tensor input = unwrap_tensor(info[2], argument(info, "input"));
  check_cpu({output, input}, info, "input");
  bool average = false;
  c10d::ReduceOp op = reduce_op(info, 3, &average);
  if (op != c10d::ReduceOp::SUM) throw CallError(argument(info, "op") + ": reduceScatter supports 'sum' and 'avg'");
  milliseconds timeout = timeout_arg(info, 4);
  if (input.numel() != output.numel() * g->world || !input.is_contiguous() || !output.is_contiguous() || input.scalar_type() != output.scalar_type())
    throw CallError(std::string(call_name(info)) + ": input must be contiguous, of output's dtype, with worldSize (" + std::to_string(g->world) + ") x output's " + std::to_string(output.numel()) + " elements; got " + std::to_string(input.numel()));
  at::Tensor received = at::empty({g->world, output.numel()}, input.options());
  std::vector<int64_t> splits;
  auto work = g->pg->alltoall_base(received, input, splits, splits);
  int world = g->world;
  return settle(info, work, timeout, [received, output, average, world] {
    output.view({-1}).copy_(received.sum(0));  // received: [worldSize, n], row r from rank r
    if (average) output.div_(world);
  });
}

// c10dBarrier(group, timeoutMs) -> Promise: settles once every rank reached it.
Napi::Value c10d_barrier(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  milliseconds timeout = timeout_arg(info, 1);
  return settle(info, g->pg->barrier(c10d::BarrierOptions()), timeout);
}

// c10dDeadRanks(group, windowMs) -> Promise<number[]>: the ranks whose heartbeat did not move
// within the window; [0] alone when the store (rank 0's) cannot be reached at all.
Napi::Value c10d_dead_ranks(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  milliseconds window = timeout_arg(info, 1);
  auto dead = std::make_shared<std::vector<int>>();
  return run_async(
      info.Env(), call_name(info),
      [g, window, dead] {
        auto read = [&](int r) { return g->store->add("llava/heartbeat/" + std::to_string(r), 0); };
        std::vector<int64_t> before(g->world);
        try {
          for (int r = 0; r < g->world; ++r) before[r] = read(r);
          std::this_thread::sleep_for(window);
          for (int r = 0; r < g->world; ++r)
            if (r != g->rank && read(r) == before[r]) dead->push_back(r);
        } catch (...) {
          dead->assign({0});
        }
      },
      [dead](Napi::Env env) -> Napi::Value {
        auto arr = Napi::Array::New(env, dead->size());
        for (size_t i = 0; i < dead->size(); ++i) arr.Set(i, Napi::Number::New(env, (*dead)[i]));
        return arr;
      });
}

// c10dReducer(group, params, bucketBytes) -> reducer: DDP's own gradient bucketing. Its autograd
// hooks all-reduce a bucket (averaged over the world) as soon as its last gradient is ready,
// while backward goes on; the end of backward waits for the buckets and writes params' .grad.
// Buckets follow the parameters' reverse order, the order backward produces gradients in.
Napi::Value c10d_reducer(const Napi::CallbackInfo& info) {
  GroupPtr g = group_arg(info);
  auto params = tensors_arg(info, 1, "params");
  check_cpu(params, info, "params");
  for (size_t i = 0; i < params.size(); ++i)
    if (!params[i].requires_grad() || !params[i].is_leaf())
      throw CallError(argument(info, "params") + "[" + std::to_string(i) + "]: expected a leaf that requires grad");
  int64_t bucket_bytes = to_integer(info[2], argument(info, "bucketBytes"));
  if (bucket_bytes < 1) throw CallError(argument(info, "bucketBytes") + ": expected at least 1, got " + std::to_string(bucket_bytes));
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(params, {static_cast<size_t>(bucket_bytes)});
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  auto holder = new ReducerHolder{g, nullptr};
  holder->reducer = std::make_unique<c10d::Reducer>(params, buckets, limits, g->pg, std::vector<bool>(params.size(), false),
                                                    bucket_bytes, false, false, std::unordered_map<size_t, std::string>{}, bucket_bytes);
  auto external = Napi::External<ReducerHolder>::New(info.Env(), holder, finalize_reducer);
  external.TypeTag(&kReducerTag);
  return external;
}

// c10dPrepareBackward(reducer): arms the hooks for the next backward (the one that syncs).
Napi::Value c10d_prepare_backward(const Napi::CallbackInfo& info) {
  tagged<ReducerHolder>(info, 0, kReducerTag, "reducer", "reducer")->reducer->prepare_for_backward({});
  return info.Env().Undefined();
}

const Entry kEntries[] = {
    {"c10dInit", c10d_init, 5, 5},
    {"c10dClose", c10d_close, 1, 1},
    {"c10dAllReduce", c10d_all_reduce, 4, 4},
    {"c10dBroadcast", c10d_broadcast, 4, 4},
    {"c10dAllGather", c10d_all_gather, 4, 4},
    {"c10dReduceScatter", c10d_reduce_scatter, 5, 5},
    {"c10dBarrier", c10d_barrier, 2, 2},
    {"c10dDeadRanks", c10d_dead_ranks, 2, 2},
    {"c10dReducer", c10d_reducer, 3, 3},
    {"c10dPrepareBackward", c10d_prepare_backward, 1, 1},
};

}  // namespace

void init_c10d(Napi::Env env, Napi::Object exports) { export_entries(env, exports, kEntries, std::size(kEntries)); }

}  // namespace llava
