"""The anchor for bench/train.ts: the same LLaVA and the same training loop in plain PyTorch (Debian's
python3-torch, same threads): per optimizer step, forward + backward of the micro-batch, clip_grad_norm_ over the
trainable parameters, the cosine LambdaLR, AdamW, zero_grad; stage 1 (projector only; the LLM frozen but
back-propagated through) and stage 2 (projector + LLM), with and without torch.utils.checkpoint per decoder layer.
As the Trainer, the LM head scores only the positions that have a target (not the image slots).
argv: threads, the shapes (JSON), then `memory` (prints {torch_version, cases: {case: peak bytes a step holds over
the RSS of the built model and its inputs}}; run with glibc's mmap threshold fixed low, so freed tensors leave the
RSS) or `steps` (prints {torch_version}, then runs steps as stdin asks, answering each with its ms)."""
import json, math, sys, time
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

threads = int(sys.argv[1])
cfg = json.loads(sys.argv[2])
mode = sys.argv[3]
torch.set_num_threads(threads)
torch.manual_seed(0)
V, C = cfg["vision"], cfg["text"]
NEG = torch.finfo(torch.float32).min


def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":"))


class ClipLayer(nn.Module):
    def __init__(s, d, heads, inter):
        super().__init__()
        s.h, s.hd = heads, d // heads
        s.q, s.k, s.v, s.o = (nn.Linear(d, d) for _ in range(4))
        s.ln1, s.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.fc1, s.fc2 = nn.Linear(d, inter), nn.Linear(inter, d)

    def forward(s, x):
        N, T, D = x.shape
        split = lambda t: t.view(N, T, s.h, s.hd).transpose(1, 2)
        h = s.ln1(x)
        q, k, v = split(s.q(h) * s.hd ** -0.5), split(s.k(h)), split(s.v(h))
        x = x + s.o((q @ k.transpose(2, 3)).softmax(-1).matmul(v).transpose(1, 2).reshape(N, T, D))
        h = s.fc1(s.ln2(x))
        return x + s.fc2(h * torch.sigmoid(1.702 * h))


class RMSNorm(nn.Module):
    def __init__(s, d, eps):
        super().__init__()
        s.w, s.eps = nn.Parameter(torch.ones(d)), eps

    def forward(s, x):
        x32 = x.float()
        return s.w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + s.eps)).to(x.dtype)


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos[:, None] + torch.cat([-x[..., half:], x[..., :half]], -1) * sin[:, None]


class LlamaLayer(nn.Module):
    def __init__(s):
        super().__init__()
        d, s.h = C["hidden_size"], C["num_attention_heads"]
        s.hd = d // s.h
        s.q, s.k, s.v, s.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        s.gate, s.up = nn.Linear(d, C["intermediate_size"], bias=False), nn.Linear(d, C["intermediate_size"], bias=False)
        s.down = nn.Linear(C["intermediate_size"], d, bias=False)
        s.n1, s.n2 = RMSNorm(d, C["rms_norm_eps"]), RMSNorm(d, C["rms_norm_eps"])

    def forward(s, x, cos, sin, mask):
        B, T, D = x.shape
        split = lambda t: t.view(B, T, s.h, s.hd).transpose(1, 2)
        h = s.n1(x)
        q, k, v = rotate(split(s.q(h)), cos, sin), rotate(split(s.k(h)), cos, sin), split(s.v(h))
        p = ((q @ k.transpose(2, 3)) / math.sqrt(s.hd) + mask).float().softmax(-1).to(q.dtype)
        x = x + s.o((p @ v).transpose(1, 2).reshape(B, T, D))
        h = s.n2(x)
        return x + s.down(F.silu(s.gate(h)) * s.up(h))


class Llava(nn.Module):
    def __init__(s):
        super().__init__()
        d, p = C["hidden_size"], V["patch_size"]
        dv = V["hidden_size"]
        s.patch = nn.Conv2d(3, dv, p, p, bias=False)
        s.cls = nn.Parameter(torch.randn(dv))
        s.pos = nn.Embedding((V["image_size"] // p) ** 2 + 1, dv)
        s.pre = nn.LayerNorm(dv)
        s.vis = nn.ModuleList(ClipLayer(dv, V["num_attention_heads"], V["intermediate_size"]) for _ in range(V["num_hidden_layers"]))
        s.proj1, s.proj2 = nn.Linear(dv, d), nn.Linear(d, d)
        s.embed = nn.Embedding(C["vocab_size"], d)
        s.layers = nn.ModuleList(LlamaLayer() for _ in range(C["num_hidden_layers"]))
        s.norm = RMSNorm(d, C["rms_norm_eps"])
        s.lm_head = nn.Linear(d, C["vocab_size"], bias=False)
        hd = d // C["num_attention_heads"]
        s.inv_freq = 1.0 / (C["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))

    def forward(s, px, ids, recompute):  # the last hidden state [B, T, D]
        with torch.no_grad():  # the frozen tower: hidden state -2, CLS dropped
            x = s.patch(px).flatten(2).transpose(1, 2)
            x = torch.cat([s.cls.view(1, 1, -1).expand(x.shape[0], 1, -1), x], 1) + s.pos.weight[None]
            x = s.pre(x)
            for layer in s.vis[:-1]:
                x = layer(x)
            feats = x[:, 1:]
        x = torch.cat([s.proj2(F.gelu(s.proj1(feats))), s.embed(ids)], 1)
        B, T, _ = x.shape
        pos = torch.arange(T)[None].expand(B, T).float()
        emb = torch.cat([pos[..., None] * s.inv_freq] * 2, -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), NEG).triu(1)[None, None]
        for layer in s.layers:
            x = checkpoint(layer, x, cos, sin, mask, use_reentrant=False) if recompute else layer(x, cos, sin, mask)
        return s.norm(x)


model = Llava()
B, text = cfg["batch"], cfg["text_tokens"]
px = torch.randn(B, 3, V["image_size"], V["image_size"])
ids = torch.randint(0, C["vocab_size"], (B, text))
labels = torch.cat([torch.full((B, (V["image_size"] // V["patch_size"]) ** 2), -100), ids], 1)
base = status("VmRSS")  # the model, its inputs and the interpreter
opt = sched = trainable = recompute = None


def start_case(case):
    """Sets the stage's trainable parameters and a new AdamW and schedule (the previous case's state freed)."""
    global opt, sched, trainable, recompute
    opt = sched = None
    recompute = case["recompute"]
    model.requires_grad_(False)
    for name, p in model.named_parameters():
        if name.startswith("proj") or (
            case["stage"] == "finetune" and not name.startswith(("patch", "cls", "pos", "pre", "vis"))
        ):
            p.requires_grad_(True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / 1000)))


def step():
    hidden = model(px, ids, recompute)
    targets = labels[:, 1:]  # position t is scored on labels[t + 1]
    kept = targets != -100
    logits = model.lm_head(hidden[:, :-1][kept]).float()  # [K, V]
    loss = F.cross_entropy(logits, targets[kept])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


cases = {c["name"]: c for c in cfg["cases"]}
if mode == "memory":
    peaks = {}
    for case in cfg["cases"]:
        start_case(case)
        step()  # optimizer state allocated, as it is in every later step
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        step()
        peaks[case["name"]] = status("VmHWM") - base
    print(json.dumps({"torch_version": torch.__version__, "cases": peaks}))
else:
    # Steps on request, so the caller alternates them with its own and load on the machine falls on both alike:
    # a line `case NAME` starts a case, `step` runs one step; each is answered with one line (the step's ms).
    print(json.dumps({"torch_version": torch.__version__}), flush=True)
    for line in sys.stdin:
        command, _, name = line.strip().partition(" ")
        if command == "case":
            start_case(cases[name])
            print("ok", flush=True)
        else:
            t0 = time.perf_counter()
            step()
            print((time.perf_counter() - t0) * 1e3, flush=True)
