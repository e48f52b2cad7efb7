"""Target 5: peak memory of one gradient over 1e6 x 10 float64 rows, in a fresh process.

The child imports gradcli, takes one gradient on a tiny data set (so every lazy import is
done), notes its resident size, makes the data column by column (no temporaries), takes the
gradient through gradcli.gradients(..., engines=("backprop",)), and reports its peak resident
size (VmHWM; ru_maxrss would carry the parent's peak across fork and exec). gradcli's figure is
peak minus the size before the data: the data itself plus everything the gradient needed; the
limit is twice the data.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .common import Row

CHILD = r'''
import json, resource, sys
import numpy as np
import gradcli

rows, inputs = int(sys.argv[1]), int(sys.argv[2])
model = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, inputs + 1))
params = {"b": 0.1, **{f"w{i}": 0.01 * i for i in range(1, inputs + 1)}}
small = {f"x{i}": np.ones(3) for i in range(1, inputs + 1)} | {"y": np.zeros(3)}
gradcli.gradients(model, "mse", small, params, engines=("backprop",))

def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()

before = resident()
rng = np.random.default_rng(0)
data = {f"x{i}": rng.standard_normal(rows) for i in range(1, inputs + 1)}
data["y"] = rng.standard_normal(rows)
size = sum(column.nbytes for column in data.values())
report = gradcli.gradients(model, "mse", data, params, engines=("backprop",))
with open("/proc/self/status") as status:  # VmHWM: the peak of this process's own memory map
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"before": before, "peak": peak, "data": size, "loss": report.loss_value}))
'''


def memory(quick: bool) -> list[Row]:
    if not sys.platform.startswith("linux"):
        return [Row("5", "peak memory of a gradient", "MB", None, "the data", None, 2.0, "needs Linux /proc")]
    done = subprocess.run([sys.executable, "-c", CHILD, "1000000", "10"], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    used = (found["peak"] - found["before"]) / 1e6
    data = found["data"] / 1e6
    return [Row("5", "peak memory of a gradient, 1e6 x 10 rows (+ target)", "MB", used,
                "the data", data, 2.0)]
