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
from layers_pytorch import Llava

threads = int(sys.argv[1])
cfg = json.loads(sys.argv[2])
mode = sys.argv[3]
torch.set_num_threads(threads)
torch.manual_seed(0)
V, C = cfg["vision"], cfg["text"]


def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":"))


model = Llava(V, C)
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
            case["stage"] == "finetune" and not name.startswith("clip")
        ):
            p.requires_grad_(True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / 1000)))


def step():
    hidden = model.llm.hidden(model.embeds(px, ids), recompute=recompute)
    targets = labels[:, 1:]  # position t is scored on labels[t + 1]
    kept = targets != -100
    logits = model.llm.lm_head(hidden[:, :-1][kept]).float()  # [K, V]
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
