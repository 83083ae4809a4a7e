"""The anchor for bench/distributed.ts, with torch.distributed's Gloo backend over 2 processes on loopback (Debian's
python3-torch), timed as bench/report.ts's medianMsAsync (median after one warm-up). Rank from $RANK; rank 0 prints
JSON. With cfg["step"]: the DDP step, the same LLaMA's forward + backward under DistributedDataParallel (c10d's
Reducer, as ours) with gradient sync and inside no_sync(), alternated; otherwise all-reduce of float32 buffers."""
import contextlib, json, os, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from layers_pytorch import Llama
from timing import median, median_ms

cfg = json.loads(sys.argv[1])
rank = int(os.environ["RANK"])
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{cfg['port']}", rank=rank, world_size=2)


def all_reduce_ms():
    results = []
    for mib in cfg["sizesMiB"]:
        buffer = torch.ones(mib * 2**20 // 4)
        dist.barrier()
        reps = 3 if mib >= 64 else 10
        results.append({"mib": mib, "ms": median_ms(lambda: dist.all_reduce(buffer), reps, warmup=1)})
    return results


def step_ms(step):
    torch.manual_seed(0)
    model = DistributedDataParallel(Llama({**step["model"], "rms_norm_eps": 1e-6}), bucket_cap_mb=step["bucketMiB"])
    ids = torch.randint(0, step["model"]["vocab_size"], step["batch"])

    def run(sync):
        def once():
            dist.barrier()
            with contextlib.nullcontext() if sync else model.no_sync():
                model(ids).backward()
            model.zero_grad(set_to_none=True)

        return once

    sync_ms, local_ms = [], []
    for i in range(step["reps"]):
        sync_ms.append(median_ms(run(True), 1, warmup=1 if i == 0 else 0))
        local_ms.append(median_ms(run(False), 1, warmup=1 if i == 0 else 0))
    return {"syncMs": median(sync_ms), "localMs": median(local_ms)}


results = step_ms(cfg["step"]) if "step" in cfg else all_reduce_ms()
dist.destroy_process_group()
if rank == 0:
    print(json.dumps({"torch_version": torch.__version__, "results": results}))
