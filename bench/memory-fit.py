"""Fits lib/train/memory.ts's coefficients to bench/memory-grid.ts's measurements.

Usage: npx tsx bench/memory-grid.ts > grid.jsonl && python3 bench/memory-fit.py grid.jsonl
Each coefficient is float32 numbers held at a step's peak per unit of its term (per token and
hidden unit, per attention score, ...), fitted by non-negative least squares on peak bytes minus
the resting weights and optimizer state.
"""
import json
import sys

import numpy as np

try:
    from scipy.optimize import nnls
except ImportError:  # plain least squares; may give a negative coefficient
    def nnls(a, b):
        return np.linalg.lstsq(a, b, rcond=None)[0], None


def linear_shapes(r):
    d, i, h, kv, hd = r["hiddenSize"], r["intermediateSize"], r["numHeads"], r["numKvHeads"], r["headDim"]
    return {"q_proj": (d, h * hd), "k_proj": (d, kv * hd), "v_proj": (d, kv * hd), "o_proj": (h * hd, d),
            "gate_proj": (d, i), "up_proj": (d, i), "down_proj": (i, d)}


def layer_terms(r, layers):
    n = r["B"] * r["T"]
    q = (r["numHeads"] + 2 * r["numKvHeads"]) * r["headDim"]
    return [layers * n * r["hiddenSize"], layers * n * r["intermediateSize"],
            layers * r["B"] * r["numHeads"] * r["T"] ** 2, layers * n * q]


def terms(r):
    layers = r["numLayers"]
    frozen = r.get("freezeLayers") or 0
    head = [r["B"] * r["T"] * r["vocabSize"], r["trainable"]]
    if r["method"] == "lora":
        shapes = linear_shapes(r)
        mods = shapes if r["targets"] == ["all-linear"] else {k: v for k, v in shapes.items() if k in r["targets"]}
        n = r["B"] * r["T"]
        adapters = [layers * n * sum(a for a, _ in mods.values()), layers * n * r["r"] * len(mods)]
        return layer_terms(r, layers) + head + adapters
    return layer_terms(r, layers - frozen) + head + layer_terms(r, frozen)


def fit(rows, names):
    x = np.array([terms(r) for r in rows], float) * 4
    y = np.array([r["peak"] - r["rest"] for r in rows], float)
    coef, _ = nnls(x, y)
    coef = np.round(coef, 1)
    worst = np.abs((x @ coef - y) / y).max()
    print(", ".join(f"{k} {v}" for k, v in zip(names, coef)), f"(worst fit {worst:.1%})")


rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
layer = ["nd", "ni", "scores", "nq"]
print("full and freeze:")
fit([r for r in rows if r["method"] != "lora"], layer + ["head", "gradients"] + [f"frozen {k}" for k in layer])
print("lora:")
fit([r for r in rows if r["method"] == "lora"], layer + ["head", "gradients", "adapter nIn", "adapter nRank"])
