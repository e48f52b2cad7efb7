"""train on Dask: the same parameters as in memory, sgd identical to a streamed run of the same parts,
a worker killed mid-training survived, a bad cell named by file, row and column, and the cluster
gradcli starts closed on every way out.

One LocalCluster of 2 worker processes serves the API tests (they connect to it by its address);
one CLI run and one API run start their own. (xdist's --dist loadgroup would keep the module in
one test process, but it does not group under pytest 9.2, whose items keep their id in `_id`, not
the `_nodeid` that xdist 3.8 renames: two test processes may each start the cluster.)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import Result, clean_env, one_line_error

from gradcli import train
from gradcli.errors import DataError, GradcliError

SIZES = (14_000, 15_000, 16_000)  # 1.08 MB of float64 in all: over --memory 1MiB, so that it streams
RTOL = 1e-9


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as local, Client(local, set_as_default=False) as client:
        yield local.scheduler_address, client


def write_parts(folder: Path, sizes=SIZES, seed: int = 1) -> str:
    """Parquet files part-0.parquet ... of y = 0.5 + 2 x1 - x2 + noise; their glob."""
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    for k, n in enumerate(sizes):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        y = 0.5 + 2 * x1 - x2 + 0.1 * rng.normal(size=n)
        pq.write_table(pa.table({"x1": x1, "x2": x2, "y": y}), folder / f"part-{k}.parquet")
    return str(folder / "part-*.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return write_parts(tmp_path_factory.mktemp("dask") / "data")


def close(a: dict[str, float], b: dict[str, float], rtol: float = RTOL) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= rtol * abs(b[k]) for k in a)


def test_lbfgs_on_dask_equals_lbfgs_in_memory(cluster, data):
    ticks = []
    on_dask = train(data, dask=cluster[0], pass_progress=lambda *tick: ticks.append(tick))
    in_memory = train(data)
    assert (on_dask.engine, on_dask.files, on_dask.rows) == ("dask", 3, sum(SIZES))
    assert in_memory.engine == "memory" and close(on_dask.params, in_memory.params)
    assert on_dask.check.agree and on_dask.closed_form.relative_distance < 1e-9
    assert ticks[-1] == (3, 3, sum(SIZES)) and {parts for _, parts, _ in ticks} == {3}


def test_sgd_on_dask_is_identical_to_sgd_streamed_from_the_same_parts(cluster, data):
    options = dict(optimizer="sgd", batch_size=64, epochs=2, seed=3, memory="1MiB")
    streamed = train(data, **options)
    on_dask = train(data, dask=cluster[0], **options)
    assert (streamed.engine, on_dask.engine) == ("stream", "dask")
    assert on_dask.params == streamed.params and on_dask.history == streamed.history


def test_a_bad_cell_in_the_second_file_is_named_by_file_row_and_column(cluster, tmp_path):
    pattern = write_parts(tmp_path, sizes=(50, 60, 70))
    second = tmp_path / "part-1.parquet"
    table = pq.read_table(second)
    x1 = table.column("x1").to_pylist()
    x1[4] = None
    pq.write_table(table.set_column(0, "x1", pa.array(x1, pa.float64())), second)
    with pytest.raises(DataError) as on_dask:
        train(pattern, dask=cluster[0])
    with pytest.raises(DataError) as in_memory:
        train(pattern)
    message = str(on_dask.value)
    assert str(second) in message and "row 5" in message and "'x1'" in message
    assert message == str(in_memory.value)


@pytest.mark.parametrize("call, needle", [
    (dict(data={"x1": [1.0, 2.0], "y": [1.0, 2.0]}, dask="local"), "from files"),
    (dict(data="-", dask="local"), "from files"),
    (dict(data="x1=1,y=2", dask="local"), "from files"),
    (dict(workers=2), "--workers goes with --dask local"),
    (dict(dask="tcp://127.0.0.1:8786", workers=2), "--workers goes with --dask local"),
    (dict(dask="local", workers=0), "--workers must be a whole number >= 1"),
    (dict(dask="foo://x"), "unknown address scheme 'foo'"),
    (dict(dask="localhost"), "missing port"),
    (dict(dask=" "), "--dask must be 'local' or"),
])
def test_bad_dask_options_are_one_line_errors(data, call, needle):
    call = {"data": data, **call}
    with pytest.raises(GradcliError, match=needle):
        train(call.pop("data"), **call)


def test_the_command_line_trains_on_a_local_cluster_and_shows_its_dashboard(gradcli, data):
    done = gradcli("train", data, "--dask", "local", "--workers", "1", "--format", "json")
    assert done.code == 0, done
    lines = done.err.splitlines()
    assert lines[0].startswith("gradcli: dask dashboard at http://"), done
    assert all(line.startswith("gradcli: ") for line in lines) and "Traceback" not in done.err, done
    report = done.json()
    assert (report["engine"], report["files"], report["rows"]) == ("dask", 3, sum(SIZES))
    assert close(report["params"], train(data).params)


def children() -> set[int]:
    """The live processes whose parent is this one, but multiprocessing's resource tracker (it lives
    as long as this process)."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        state, parent = stat.rpartition(")")[2].split()[:2]
        if int(parent) == os.getpid() and state != "Z" and b"resource_tracker" not in cmdline:
            found.add(int(entry))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
def test_ctrl_c_closes_the_cluster_gradcli_started(data):
    before = children()

    def interrupt(epoch: int, loss: float) -> None:
        assert children() - before, "the cluster's worker is a child of this process"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, dask="local", workers=1, progress=interrupt)
    deadline = time.monotonic() + 10
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not children() - before


WITHOUT_DASK = """
import sys
sys.modules["distributed"] = None  # import distributed now raises ImportError, as without the extra
sys.argv = ["gradcli", "train", sys.argv[1], "--dask", "local"]
from gradcli.cli import main
main()
"""

STARTUP = """
import sys
import gradcli, gradcli.cli, gradcli.tasks.train, gradcli.training.distributed
try:
    gradcli.cli.app(args=["train", "--help"], prog_name="gradcli", standalone_mode=False)
except SystemExit:
    pass
print(sorted(name for name in ("dask", "distributed") if name in sys.modules))
"""


def test_without_dask_the_option_says_how_to_install_it(data):
    proc = subprocess.run([sys.executable, "-c", WITHOUT_DASK, data], capture_output=True, timeout=60,
                          env=clean_env())
    one_line_error(Result(proc), "pip install 'gradcli[dask]'")


def test_start_up_and_help_import_no_dask():
    proc = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, timeout=60, env=clean_env(),
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "--dask" in proc.stdout and proc.stdout.splitlines()[-1] == "[]"


def test_a_worker_killed_mid_training_is_replaced_and_nothing_is_lost_or_doubled(cluster, data):
    """Last in the module: the cluster's nanny restarts the worker, and the test waits for it."""
    address, client = cluster
    pids = sorted(client.run(os.getpid).values())
    options = dict(optimizer="gd", epochs=6, tol=0.0)
    killed = []

    def kill_one(epoch: int, loss: float) -> None:
        if epoch == 2:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(epoch)

    on_dask = train(data, dask=address, progress=kill_one, **options)
    in_memory = train(data, **options)
    client.wait_for_workers(2, timeout=60)
    assert killed and pids[0] not in client.run(os.getpid).values()
    assert on_dask.rows == in_memory.rows == sum(SIZES) and on_dask.result.epochs == 6
    assert close(on_dask.params, in_memory.params) and close({"loss": on_dask.loss}, {"loss": in_memory.loss})
