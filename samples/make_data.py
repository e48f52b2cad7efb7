"""Make the training samples (deterministic: fixed seed). Run: python samples/make_data.py

data.csv    y = 1.5 + 3*x1 - 2*x2 + noise (sd 0.5), 300 rows: `gradcli train samples/data.csv`
clicks.csv  y ~ Bernoulli(sigmoid(-0.5 + 1.2*x1 - 0.8*x2)), 400 rows: the bce sample
houses.csv  price = 50000 + 120*size - 900*age + noise (sd 15000), 250 rows of unscaled
            features (sizes in the thousands), to show the default optimiser needs no --lr
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
TRUE_DATA = {"b": 1.5, "w1": 3.0, "w2": -2.0}
DATA_NOISE = 0.5
TRUE_CLICKS = {"b": -0.5, "w1": 1.2, "w2": -0.8}
TRUE_HOUSES = {"b": 50000.0, "w_size": 120.0, "w_age": -900.0}


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


if __name__ == "__main__":
    main()
