"""How well frozen vision features let a reader find "the circle": an attention probe for llava demo's world.

For each object of a scene, a learnt query per shape attends over the 64 patch features (after a per-patch MLP, so
the probe is the projector plus one attention hop of the LLM) and names the object's colour (6 classes) or side
(left/right, objects clearly on one side). Trained on the train scenes, scored on the held-out ones. Features:
`raw` (the 8x8x3 pixels of each patch), or a CLIP folder's hidden state `layer` (patch tokens), as CLIP's
trained weights or, with `untrained`, transformers' init (N(0, 0.02) matrices, unit norms, zero biases).

usage: demo_probe.py <dump dir from bench/demo-probe.ts> <spec>...   spec: raw | <clip dir>[:layer[:untrained]]
"""
import json, math, struct, sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SHAPES = ['circle', 'square', 'triangle', 'cross']
COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange']
SIZE = 64


def load_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for key, v in header.items():
        if key == '__metadata__':
            continue
        assert v['dtype'] == 'F32', f'{path}: {key} is {v["dtype"]}, the probe reads F32'
        s, e = v['data_offsets']
        out[key] = torch.from_numpy(np.frombuffer(raw[8 + n + s:8 + n + e], dtype=np.float32).copy()).view(v['shape'])
    return out


def untrained(weights):
    g = torch.Generator().manual_seed(1)
    def init(key, w):
        if w.dim() > 1:
            return torch.randn(w.shape, generator=g) * 0.02
        return torch.ones_like(w) if 'norm' in key and key.endswith('weight') else torch.zeros_like(w)
    return {k: init(k, w) for k, w in weights.items()}


def clip_patch_features(pixels, folder, layer, fresh):
    """pixels [N, 3, 64, 64] in [0, 1] -> hidden_states[layer][:, 1:] [N, 64, D], as CLIPVisionModel computes it."""
    vision = json.load(open(f'{folder}/config.json'))['vision_config']
    pre = json.load(open(f'{folder}/preprocessor_config.json'))
    W = load_safetensors(f'{folder}/model.safetensors')
    if fresh:
        W = untrained(W)
    p = 'vision_model.'
    H, heads = vision['hidden_size'], vision['num_attention_heads']
    x = (pixels - torch.tensor(pre['image_mean']).view(1, 3, 1, 1)) / torch.tensor(pre['image_std']).view(1, 3, 1, 1)
    patches = F.conv2d(x, W[p + 'embeddings.patch_embedding.weight'], stride=vision['patch_size']).flatten(2).mT
    cls = W[p + 'embeddings.class_embedding'].view(1, 1, -1).expand(x.shape[0], 1, -1)
    h = torch.cat([cls, patches], 1) + W[p + 'embeddings.position_embedding.weight']
    norm = lambda t, k: F.layer_norm(t, (H,), W[k + '.weight'], W[k + '.bias'])
    linear = lambda t, k: F.linear(t, W[k + '.weight'], W[k + '.bias'])
    h = norm(h, p + 'pre_layrnorm')
    states = [h]
    for i in range(vision['num_hidden_layers']):
        k = p + f'encoder.layers.{i}.'
        t = norm(h, k + 'layer_norm1')
        B, T, _ = t.shape
        split = lambda z: z.view(B, T, heads, H // heads).transpose(1, 2)
        q, kk, v = (split(linear(t, k + f'self_attn.{n}_proj')) for n in 'qkv')
        a = F.softmax(q @ kk.mT / math.sqrt(H // heads), -1) @ v
        h = h + linear(a.transpose(1, 2).reshape(B, T, H), k + 'self_attn.out_proj')
        t = linear(norm(h, k + 'layer_norm2'), k + 'mlp.fc1')
        h = h + linear(t * torch.sigmoid(1.702 * t), k + 'mlp.fc2')  # quick_gelu
        states.append(h)
    return states[layer][:, 1:]


def examples(scenes):
    """(scene, shape, colour) and (scene, shape, right?) for every object; sides only outside the middle fifth."""
    colour, side = [], []
    for i, s in enumerate(scenes):
        for o in s['objects']:
            colour.append((i, SHAPES.index(o['shape']), COLOURS.index(o['colour'])))
            cx = (o['box'][0] + o['box'][2]) / 2 / SIZE
            if cx < 0.4 or cx > 0.6:
                side.append((i, SHAPES.index(o['shape']), int(cx > 0.6)))
    return torch.tensor(colour), torch.tensor(side)


class Probe(nn.Module):
    def __init__(s, features, classes, width=128):
        super().__init__()
        s.patch = nn.Sequential(nn.Linear(features, width), nn.GELU(), nn.Linear(width, width))
        s.position = nn.Parameter(torch.zeros(64, width))
        s.query = nn.Embedding(len(SHAPES), width)
        s.key, s.value = nn.Linear(width, width), nn.Linear(width, width)
        s.out = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, classes))

    def forward(s, f, shape):  # f [B, 64, D], shape [B]
        h = s.patch(f) + s.position
        q = s.query(shape)
        attn = F.softmax(torch.einsum('bw,btw->bt', q, s.key(h)) / math.sqrt(h.shape[-1]), -1)
        return s.out(torch.cat([(attn[..., None] * s.value(h)).sum(1), q], -1))


def accuracy(train_f, test_f, train, test, classes, steps=1500):
    torch.manual_seed(0)
    probe = Probe(train_f.shape[-1], classes)
    opt = torch.optim.Adam(probe.parameters(), 1e-3)
    for _ in range(steps):
        b = train[torch.randint(len(train), (128,))]
        loss = F.cross_entropy(probe(train_f[b[:, 0]], b[:, 1]), b[:, 2])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (probe(test_f[test[:, 0]], test[:, 1]).argmax(-1) == test[:, 2]).float().mean().item()


def main():
    dump, specs = sys.argv[1], sys.argv[2:]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    split = {}
    for name in ('train', 'heldout'):
        scenes = json.load(open(f'{dump}/{name}.json'))
        px = np.fromfile(f'{dump}/{name}.u8', dtype=np.uint8).reshape(len(scenes), SIZE, SIZE, 3)
        split[name] = (scenes, torch.from_numpy(px).float().permute(0, 3, 1, 2) / 255)
    (train_colour, train_side), (test_colour, test_side) = (examples(split[n][0]) for n in ('train', 'heldout'))
    for spec in specs:
        with torch.no_grad():
            if spec == 'raw':
                feats = [F.unfold(split[n][1], 8, stride=8).mT for n in ('train', 'heldout')]  # [N, 64, 192]
            else:
                folder, layer, fresh = (spec.split(':') + ['-2', ''])[:3]
                feats = [clip_patch_features(split[n][1], folder, int(layer), fresh == 'untrained')
                         for n in ('train', 'heldout')]
        mean, std = feats[0].mean((0, 1)), feats[0].std((0, 1))
        tr, te = ((f - mean) / std for f in feats)
        c = accuracy(tr, te, train_colour, test_colour, len(COLOURS))
        s = accuracy(tr, te, train_side, test_side, 2)
        print(f'{spec:60s} colour {100 * c:5.1f}%  side {100 * s:5.1f}%', flush=True)


if __name__ == '__main__':
    main()
