"""The layers of the PyTorch anchors (bench/*_pytorch.py), in plain PyTorch (Debian's python3-torch) and written op
for op as transformers' eager modeling_clip / modeling_llama and as src/models, so each anchor times the same work
as its bench. V and C are the vision and text configs (the bench's JSON, with transformers' field names)."""
import math
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

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
    def __init__(s, V):
        super().__init__()
        d, p = V["hidden_size"], V["patch_size"]
        s.patch = nn.Conv2d(3, d, p, p, bias=False)
        s.cls = nn.Parameter(torch.randn(d))
        s.pos = nn.Embedding((V["image_size"] // p) ** 2 + 1, d)
        s.pre = nn.LayerNorm(d)
        s.layers = nn.ModuleList(
            ClipLayer(d, V["num_attention_heads"], V["intermediate_size"]) for _ in range(V["num_hidden_layers"])
        )

    def forward(s, px):  # [N, 3, H, W] -> hidden state -2, CLS dropped [N, P, D]
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
    def __init__(s, C):
        super().__init__()
        d, s.h = C["hidden_size"], C["num_attention_heads"]
        s.hd = d // s.h
        s.q, s.k, s.v, s.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        s.gate, s.up = nn.Linear(d, C["intermediate_size"], bias=False), nn.Linear(d, C["intermediate_size"], bias=False)
        s.down = nn.Linear(C["intermediate_size"], d, bias=False)
        s.n1, s.n2 = RMSNorm(d, C["rms_norm_eps"]), RMSNorm(d, C["rms_norm_eps"])

    def forward(s, x, cos, sin, mask, cache=None):  # cache: [k, v] of the earlier positions, extended in place
        B, T, D = x.shape
        split = lambda t: t.view(B, T, s.h, s.hd).transpose(1, 2)
        h = s.n1(x)
        q, k, v = rotate(split(s.q(h)), cos, sin), rotate(split(s.k(h)), cos, sin), split(s.v(h))
        if cache is not None:
            if cache:  # torch.cat, as transformers' DynamicCache
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        p = ((q @ k.transpose(2, 3)) / math.sqrt(s.hd) + mask).float().softmax(-1).to(q.dtype)
        x = x + s.o((p @ v).transpose(1, 2).reshape(B, T, D))
        h = s.n2(x)
        return x + s.down(F.silu(s.gate(h)) * s.up(h))


class Llama(nn.Module):
    """LlamaForCausalLM's modules: embed, the decoder layers, the final norm and the LM head."""

    def __init__(s, C):
        super().__init__()
        d = C["hidden_size"]
        s.embed = nn.Embedding(C["vocab_size"], d)
        s.layers = nn.ModuleList(LlamaLayer(C) for _ in range(C["num_hidden_layers"]))
        s.norm = RMSNorm(d, C["rms_norm_eps"])
        s.lm_head = nn.Linear(d, C["vocab_size"], bias=False)
        hd = d // C["num_attention_heads"]
        s.inv_freq = 1.0 / (C.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2).float() / hd))

    def hidden(s, x, start=0, caches=None, recompute=False):
        """Embeddings [B, T, D] at positions start.. -> the final norm's output [B, T, D]."""
        B, T, _ = x.shape
        pos = torch.arange(start, start + T)[None].expand(B, T).float()
        emb = torch.cat([pos[..., None] * s.inv_freq] * 2, -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, start + T), NEG).triu(start + 1)[None, None]
        for i, layer in enumerate(s.layers):
            if recompute:
                x = checkpoint(layer, x, cos, sin, mask, use_reentrant=False)
            else:
                x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        return s.norm(x)

    def forward(s, ids):
        """The loss of LlamaForCausalLM(input_ids=ids, labels=ids): next-token cross-entropy over [B, T]."""
        logits = s.lm_head(s.hidden(s.embed(ids))).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


class Llava(nn.Module):
    """LLaVA: the CLIP tower (frozen: run without grad), the 2-layer MLP projector, the LLaMA."""

    def __init__(s, V, C):
        super().__init__()
        s.clip = Clip(V)
        s.proj1, s.proj2 = nn.Linear(V["hidden_size"], C["hidden_size"]), nn.Linear(C["hidden_size"], C["hidden_size"])
        s.llm = Llama(C)

    def embeds(s, px, ids):  # [image features; text embeddings] per row [B, P + T, D]
        with torch.no_grad():
            feats = s.clip(px)
        return torch.cat([s.proj2(F.gelu(s.proj1(feats))), s.llm.embed(ids)], 1)
