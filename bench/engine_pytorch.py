"""The anchor for bench/engine.ts: the same work in PyTorch (Debian's python3-torch), same
threads, same shapes. Prints one JSON object. Run by bench/engine.ts in the same run."""
import json, math, sys, time
import torch
from timing import median_ms

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)


def gemm_gflops(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    with torch.no_grad():
        ms = median_ms(lambda: a @ b, 10)
    return 2 * n**3 / (ms / 1e3) / 1e9


class Block(torch.nn.Module):
    """Pre-LN GPT block; the same layers, ops and order as bench/engine.ts."""
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln_1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, mlp)
        self.fc2 = torch.nn.Linear(mlp, d)

    def forward(self, x, causal):
        B, T, D = x.shape
        hd = D // self.heads
        qkv = self.qkv(self.ln_1(x)).view(B, T, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)).mul(1 / math.sqrt(hd)).masked_fill(causal, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln_2(x))))


def block_ms(B=4, T=256, D=512, H=8, M=2048):
    block = Block(D, H, M)
    x = torch.randn(B, T, D)
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)

    def step():
        block(x, causal).pow(2).mean().backward()
        block.zero_grad(set_to_none=True)

    return median_ms(step, 10)


def op_overhead_us(n=200000):
    a = torch.ones(1)
    with torch.no_grad():
        for _ in range(1000):
            a.add(a)
        t0 = time.perf_counter()
        for _ in range(n):
            a.add(a)
    return (time.perf_counter() - t0) / n * 1e6


print(json.dumps({
    "torch_version": torch.__version__,
    "gemm_1024_gflops": gemm_gflops(1024),
    "gemm_2048_gflops": gemm_gflops(2048),
    "block_ms": block_ms(),
    "op_overhead_us": op_overhead_us(),
}))
