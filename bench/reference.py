"""PyTorch reference for `tunebook bench`: the same cases, shapes and optimizer, on the same CPU.

Run by `npm run bench:compare` (through `tunebook bench --compare`); prints one JSON object per
case with the fields tunebook's benchmark uses. Needs Debian's python3-torch.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOY = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
           num_key_value_heads=4, vocab_size=512, rms_norm_eps=1e-5, rope_theta=10000.0,
           tie_word_embeddings=False)


class Lora(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.a = torch.nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.q = torch.nn.Linear(d, d, bias=False)
        self.k = torch.nn.Linear(d, kv * self.hd, bias=False)
        self.v = torch.nn.Linear(d, kv * self.hd, bias=False)
        self.o = torch.nn.Linear(d, d, bias=False)
        self.gate = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.up = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.down = torch.nn.Linear(c["intermediate_size"], d, bias=False)
        self.n1 = torch.nn.Parameter(torch.ones(d))
        self.n2 = torch.nn.Parameter(torch.ones(d))
        self.eps = c["rms_norm_eps"]

    def norm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        y = self.norm(x, self.n1)
        q = self.q(y).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.h // self.kv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = scores.masked_fill(causal, float("-inf")).softmax(-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(B, T, D))
        y = self.norm(x, self.n2)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.blocks = torch.nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = torch.nn.Parameter(torch.ones(c["hidden_size"]))
        self.tied = c.get("tie_word_embeddings", False)
        if not self.tied:
            self.head = torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        T = ids.shape[1]
        hd = self.c["hidden_size"] // self.c["num_attention_heads"]
        inv = 1.0 / (self.c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, cos, sin)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c["rms_norm_eps"]) * self.norm
        return x @ self.embed.weight.t() if self.tied else self.head(x)


def case_setup(name):
    if name == "toy":
        return Llama(TOY), 8, 128, 0
    with open(os.path.join(ROOT, "models", "tunebook-base", "config.json")) as f:
        c = json.load(f)
    model = Llama(c)
    if name == "base-lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for b in model.blocks:
            for n in ["q", "k", "v", "o", "gate", "up", "down"]:
                setattr(b, n, Lora(getattr(b, n), 16, 32))
        return model, 32, 24, 6
    return model, 16, 128, 0


def bench(name, steps, warmup):
    torch.manual_seed(0)
    model, B, T, answer = case_setup(name)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    V = model.c["vocab_size"]
    ids = torch.randint(3, V, (B, T + 1))
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()
    if answer:
        targets[:, : T - answer] = -100
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    step_ms = statistics.median(times)
    return {
        "case": name,
        "backend": f"pytorch {torch.__version__} ({threads_text()})",
        "batch": B,
        "sequence": T,
        "step_ms": round(step_ms, 1),
        "train_tokens_per_s": round(B * T / (step_ms / 1000), 1),
    }


def threads_text():
    n = torch.get_num_threads()
    return "1 thread" if n == 1 else f"{n} threads"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["toy", "base-lora", "base-full"], action="append")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="intra-op threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.case or ["toy", "base-lora", "base-full"]:
        print(json.dumps(bench(name, args.steps, args.warmup)), flush=True)


if __name__ == "__main__":
    main()
