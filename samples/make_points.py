"""Make samples/points.csv and samples/labels.csv (deterministic: fixed seed).

points.csv: y = 0.5 + 2*x1 - 1*x2 + noise, the worked example's model.
labels.csv: y ~ Bernoulli(sigmoid(-0.3 + 0.8*x1)), for the bce loss.
Run: python samples/make_points.py
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20261128)
    n = 20
    x1 = np.round(rng.uniform(-2, 3, n), 2)
    x2 = np.round(rng.uniform(-1, 4, n), 2)
    y = np.round(0.5 + 2 * x1 - 1 * x2 + rng.normal(0, 0.3, n), 3)
    lines = ["x1,x2,y"] + [f"{a},{b},{c}" for a, b, c in zip(x1, x2, y)]
    (HERE / "points.csv").write_text("\n".join(lines) + "\n")

    x = np.round(rng.uniform(-4, 4, n), 2)
    p = 1 / (1 + np.exp(-(-0.3 + 0.8 * x)))
    labels = (rng.uniform(0, 1, n) < p).astype(int)
    lines = ["x1,y"] + [f"{a},{b}" for a, b in zip(x, labels)]
    (HERE / "labels.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
