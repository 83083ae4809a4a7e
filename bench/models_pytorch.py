"""The anchor for bench/models.ts: the same small LLaVA in plain PyTorch (Debian's python3-torch,
same threads), written op for op as transformers' eager modeling_llama / modeling_clip and as
src/models: a stage-2 training step, a prefill of 576 image + 64 text tokens, greedy decode with a
KV cache (torch.cat, as transformers' DynamicCache). Prints one JSON object."""
import json, sys, time
import torch
from timing import median_ms
import torch.nn.functional as F
from layers_pytorch import Llava

threads = int(sys.argv[1])
cfg = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
V, C, L = cfg["vision"], cfg["text"], cfg


model = Llava(V, C)
model.clip.requires_grad_(False)


def decode(x, start, caches=None, last_only=False):  # embeddings [B, T, D] at positions start.. -> logits
    h = model.llm.hidden(x, start, caches)
    return model.llm.lm_head(h[:, -1:] if last_only else h).float()


opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
B, text = L["batch"], L["text_tokens"]
px = torch.randn(B, 3, V["image_size"], V["image_size"])
ids = torch.randint(0, C["vocab_size"], (B, text))
labels = torch.cat([torch.full((B, (V["image_size"] // V["patch_size"]) ** 2), -100), ids], 1)


def train_step():
    logits = decode(model.embeds(px, ids), 0)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, C["vocab_size"]), labels[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def prefill():
    with torch.no_grad():
        return decode(model.embeds(px[:1], ids[:1]), 0, [[] for _ in model.llm.layers], last_only=True)


def decode_tokens_per_s(n):
    with torch.no_grad():
        caches = [[] for _ in model.llm.layers]
        x = model.embeds(px[:1], ids[:1])
        token = decode(x, 0, caches, last_only=True)[:, -1].argmax(-1)
        start = x.shape[1]
        t0 = time.perf_counter()
        for i in range(n):
            token = decode(model.llm.embed(token[:, None]), start + i, caches, last_only=True)[:, -1].argmax(-1)
        return n / (time.perf_counter() - t0)


print(json.dumps({
    "torch_version": torch.__version__,
    "train_step_ms": median_ms(train_step, L["reps"]),
    "prefill_ms": median_ms(prefill, L["reps"]),
    "decode_tokens_per_s": decode_tokens_per_s(L["decode_tokens"]),
}))
