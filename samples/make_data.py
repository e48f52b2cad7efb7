"""Make the training samples (deterministic: fixed seed). Run: python samples/make_data.py

data.csv    y = 1.5 + 3*x1 - 2*x2 + noise (sd 0.5), 300 rows: `gradcli train samples/data.csv`
clicks.csv  y ~ Bernoulli(sigmoid(-0.5 + 1.2*x1 - 0.8*x2)), 400 rows: the bce sample
houses.csv  price = 50000 + 120*size - 900*age + noise (sd 15000), 250 rows of unscaled
            features (sizes in the thousands), to show the default optimiser needs no --lr
moons.csv   two interleaving half-moons (as sklearn.datasets.make_moons, noise 0.15), x1,x2 and y in
            {0,1}, 600 rows: no straight line separates them (a linear model reaches ~0.89), a tanh
            layer does (>= 0.95 held out): `gradcli train samples/moons.csv --model
            "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)" --shape W1=16x2 --loss bce --validation 0.2`
spiral.csv  three interleaved spiral arms (the CS231n spiral), x1,x2 and class in {0,1,2}, 300 rows
            per arm (900): the multi-class sample (a linear softmax reaches ~0.57, a 32-unit relu
            layer > 0.95): `gradcli train samples/spiral.csv --model "W2 @ relu(W1 @ x + b1) + b2"
            --shape W1=32x2 --loss ce --target class`
moons and spiral come from their own generators, after the others, so that adding them left
data.csv, clicks.csv and houses.csv byte for byte as they were.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
TRUE_DATA = {"b": 1.5, "w1": 3.0, "w2": -2.0}
DATA_NOISE = 0.5
TRUE_CLICKS = {"b": -0.5, "w1": 1.2, "w2": -0.8}
TRUE_HOUSES = {"b": 50000.0, "w_size": 120.0, "w_age": -900.0}
MOONS_NOISE = 0.15
SPIRAL_NOISE = 0.2  # sd of the angle, in radians


def write(name: str, header: list[str], columns: list[np.ndarray], formats: list[str]) -> None:
    lines = [",".join(header)]
    lines += [",".join(f % v for f, v in zip(formats, row)) for row in zip(*columns)]
    (HERE / name).write_text("\n".join(lines) + "\n")


def main() -> None:
    rng = np.random.default_rng(20261129)

    n = 300
    x1, x2 = rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)
    y = TRUE_DATA["b"] + TRUE_DATA["w1"] * x1 + TRUE_DATA["w2"] * x2 + rng.normal(0, DATA_NOISE, n)
    write("data.csv", ["x1", "x2", "y"], [x1, x2, y], ["%.4f", "%.4f", "%.4f"])

    n = 400
    x1, x2 = rng.normal(0, 1.5, n), rng.normal(0, 1.5, n)
    p = 1 / (1 + np.exp(-(TRUE_CLICKS["b"] + TRUE_CLICKS["w1"] * x1 + TRUE_CLICKS["w2"] * x2)))
    y = (rng.uniform(0, 1, n) < p).astype(float)
    write("clicks.csv", ["x1", "x2", "y"], [x1, x2, y], ["%.4f", "%.4f", "%d"])

    n = 250
    size, age = rng.uniform(500, 4000, n).round(), rng.integers(0, 100, n).astype(float)
    price = TRUE_HOUSES["b"] + TRUE_HOUSES["w_size"] * size + TRUE_HOUSES["w_age"] * age + rng.normal(0, 15000, n)
    write("houses.csv", ["size", "age", "price"], [size, age, price.round()], ["%d", "%d", "%d"])

    moons(np.random.default_rng(20261201))
    spiral(np.random.default_rng(20261202))


def moons(rng: np.random.Generator, n: int = 600) -> None:
    """The upper half-circle (class 0) and the lower one shifted right and up (class 1), shuffled."""
    half = n // 2
    t0, t1 = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    x1 = np.concatenate([np.cos(t0), 1 - np.cos(t1)])
    x2 = np.concatenate([np.sin(t0), 0.5 - np.sin(t1)])
    y = np.concatenate([np.zeros(half), np.ones(n - half)])
    x1, x2 = x1 + rng.normal(0, MOONS_NOISE, n), x2 + rng.normal(0, MOONS_NOISE, n)
    order = rng.permutation(n)
    write("moons.csv", ["x1", "x2", "y"], [x1[order], x2[order], y[order]], ["%.4f", "%.4f", "%d"])


def spiral(rng: np.random.Generator, per_class: int = 300, classes: int = 3) -> None:
    """Arm k: radius 0 to 1 while the angle runs from 4k to 4(k+1) radians, plus noise (CS231n), shuffled."""
    r = np.tile(np.linspace(0.0, 1.0, per_class), classes)
    k = np.repeat(np.arange(classes), per_class)
    theta = np.concatenate([np.linspace(4.0 * c, 4.0 * (c + 1), per_class) for c in range(classes)])
    theta = theta + rng.normal(0, SPIRAL_NOISE, per_class * classes)
    order = rng.permutation(per_class * classes)
    x1, x2 = r * np.sin(theta), r * np.cos(theta)
    write("spiral.csv", ["x1", "x2", "class"], [x1[order], x2[order], k[order]], ["%.4f", "%.4f", "%d"])


if __name__ == "__main__":
    main()
