"""The anchor for bench/models.ts: the same small LLaVA in plain PyTorch (Debian's python3-torch,
same threads), written op for op as transformers' eager modeling_llama / modeling_clip and as
src/models: a stage-2 training step, a prefill of 576 image + 64 text tokens, greedy decode with a
KV cache (torch.cat, as transformers' DynamicCache). Prints one JSON object."""
import json, math, sys, time
import torch
from timing import median_ms
import torch.nn.functional as F
from torch import nn

threads = int(sys.argv[1])
cfg = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
V, C, L = cfg["vision"], cfg["text"], cfg
NEG = torch.finfo(torch.float32).min


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


class Clip(nn.Module):
    def __init__(s):
        super().__init__()
        d, p = V["hidden_size"], V["patch_size"]
        s.patch = nn.Conv2d(3, d, p, p, bias=False)
        s.cls = nn.Parameter(torch.randn(d))
        s.pos = nn.Embedding((V["image_size"] // p) ** 2 + 1, d)
        s.pre = nn.LayerNorm(d)
        s.layers = nn.ModuleList(ClipLayer(d, V["num_attention_heads"], V["intermediate_size"]) for _ in range(V["num_hidden_layers"]))

    def forward(s, px):  # hidden state -2, CLS dropped
        x = s.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.view(1, 1, -1).expand(x.shape[0], 1, -1), x], 1) + s.pos.weight[None]
        x = s.pre(x)
        for layer in s.layers[:-1]:
            x = layer(x)
        return x[:, 1:]


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

    def forward(s, x, cos, sin, mask, cache=None):
        B, T, D = x.shape
        split = lambda t: t.view(B, T, s.h, s.hd).transpose(1, 2)
        h = s.n1(x)
        q, k, v = rotate(split(s.q(h)), cos, sin), rotate(split(s.k(h)), cos, sin), split(s.v(h))
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        p = ((q @ k.transpose(2, 3)) / math.sqrt(s.hd) + mask).float().softmax(-1).to(q.dtype)
        x = x + s.o((p @ v).transpose(1, 2).reshape(B, T, D))
        h = s.n2(x)
        return x + s.down(F.silu(s.gate(h)) * s.up(h))


class Llava(nn.Module):
    def __init__(s):
        super().__init__()
        d = C["hidden_size"]
        s.clip = Clip()
        s.proj1, s.proj2 = nn.Linear(V["hidden_size"], d), nn.Linear(d, d)
        s.embed = nn.Embedding(C["vocab_size"], d)
        s.layers = nn.ModuleList(LlamaLayer() for _ in range(C["num_hidden_layers"]))
        s.norm = RMSNorm(d, C["rms_norm_eps"])
        s.lm_head = nn.Linear(d, C["vocab_size"], bias=False)
        hd = d // C["num_attention_heads"]
        s.inv_freq = 1.0 / (C["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))

    def embeds(s, px, ids):  # [image features; text embeddings] per row
        with torch.no_grad():
            feats = s.clip(px)
        return torch.cat([s.proj2(F.gelu(s.proj1(feats))), s.embed(ids)], 1)

    def decode(s, x, start, caches=None, last_only=False):
        B, T, _ = x.shape
        pos = torch.arange(start, start + T)[None].expand(B, T).float()
        emb = torch.cat([pos[..., None] * s.inv_freq] * 2, -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, start + T), NEG).triu(start + 1)[None, None]
        for i, layer in enumerate(s.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        x = s.norm(x)
        return s.lm_head(x[:, -1:] if last_only else x).float()


model = Llava()
model.clip.requires_grad_(False)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
B, text = L["batch"], L["text_tokens"]
px = torch.randn(B, 3, V["image_size"], V["image_size"])
ids = torch.randint(0, C["vocab_size"], (B, text))
labels = torch.cat([torch.full((B, (V["image_size"] // V["patch_size"]) ** 2), -100), ids], 1)


def train_step():
    logits = model.decode(model.embeds(px, ids), 0)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, C["vocab_size"]), labels[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def prefill():
    with torch.no_grad():
        return model.decode(model.embeds(px[:1], ids[:1]), 0, [[] for _ in model.layers], last_only=True)


def decode_tokens_per_s(n):
    with torch.no_grad():
        caches = [[] for _ in model.layers]
        x = model.embeds(px[:1], ids[:1])
        token = model.decode(x, 0, caches, last_only=True)[:, -1].argmax(-1)
        start = x.shape[1]
        t0 = time.perf_counter()
        for i in range(n):
            token = model.decode(model.embed(token[:, None]), start + i, caches, last_only=True)[:, -1].argmax(-1)
        return n / (time.perf_counter() - t0)


print(json.dumps({
    "torch_version": torch.__version__,
    "train_step_ms": median_ms(train_step, L["reps"]),
    "prefill_ms": median_ms(prefill, L["reps"]),
    "decode_tokens_per_s": decode_tokens_per_s(L["decode_tokens"]),
}))
