"""The anchor for bench/distributed.ts: all-reduce of the same float32 buffers with
torch.distributed's Gloo backend over 2 processes on loopback (Debian's python3-torch), timed as
bench/report.ts's medianMsAsync (median after one warm-up). Rank from $RANK; rank 0 prints JSON."""
import json, os, sys
import torch
import torch.distributed as dist
from timing import median_ms

cfg = json.loads(sys.argv[1])
rank = int(os.environ["RANK"])
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{cfg['port']}", rank=rank, world_size=2)
results = []
for mib in cfg["sizesMiB"]:
    buffer = torch.ones(mib * 2**20 // 4)
    dist.barrier()
    reps = 3 if mib >= 64 else 10
    results.append({"mib": mib, "ms": median_ms(lambda: dist.all_reduce(buffer), reps, warmup=1)})
dist.destroy_process_group()
if rank == 0:
    print(json.dumps({"torch_version": torch.__version__, "results": results}))
