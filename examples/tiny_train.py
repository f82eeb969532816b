"""A tiny CPU-only 'training' job: logistic regression by SGD on synthetic data.

No dependencies; takes a few seconds. Used by the README's quick start:

    carbonlens run --country FR -- python examples/tiny_train.py
"""

from __future__ import annotations

import math
import random
import sys


def make_data(n: int, dim: int, rng: random.Random) -> list[tuple[list[float], int]]:
    """Points labelled by a hidden linear rule."""
    truth = [rng.uniform(-1, 1) for _ in range(dim)]
    data = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(dim)]
        data.append((x, int(sum(a * b for a, b in zip(truth, x, strict=True)) > 0)))
    return data


def train(epochs: int = 16, n: int = 20000, dim: int = 40, lr: float = 0.1) -> float:
    """Train and return the final accuracy."""
    rng = random.Random(0)
    data = make_data(n, dim, rng)
    w = [0.0] * dim
    for epoch in range(epochs):
        rng.shuffle(data)
        for x, y in data:
            z = sum(a * b for a, b in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = p - y
            w = [wi - lr * g * xi for wi, xi in zip(w, x, strict=True)]
        correct = sum(
            (sum(a * b for a, b in zip(w, x, strict=True)) > 0) == bool(y) for x, y in data
        )
        print(f"epoch {epoch + 1}/{epochs} accuracy {correct / n:.3f}", flush=True)
    return correct / n


if __name__ == "__main__":
    accuracy = train(epochs=int(sys.argv[1]) if len(sys.argv) > 1 else 16)
    sys.exit(0 if accuracy > 0.9 else 1)
