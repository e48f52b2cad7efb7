"""grad, hessian and predict on Dask: the same numbers, verdicts and JSON keys as in memory, a worker
killed mid-run survived (Dask reruns its tasks), and no cluster process left behind.

One LocalCluster of 2 worker processes serves every test here but one (they reach it by its
address, through the same --dask option a user gives); the last starts its own through the CLI.
The data is 3 Parquet files, so that every mean is several parts' means weighted by their rows.
A CLI run with --dask is the installed program in a subprocess: a LocalCluster started in a fork
of a process that holds Dask's threads deadlocks.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import one_line_error, run_program

import gradcli
from gradcli.errors import GradcliError

psutil = pytest.importorskip("psutil")

SIZES = (120, 250, 180)
MODEL = "b + w1*x1 + w2*tanh(x2)"
PARAMS = {"b": 0.1, "w1": 0.7, "w2": -0.4}
RTOL = 1e-12  # the mean of parts' means against the mean of all the rows: rounding alone


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import Client, LocalCluster

    before = _children()
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):  # a task given up after 2 deaths, not 4
        local = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                             silence_logs=logging.CRITICAL)
    with local, Client(local, set_as_default=False) as client:
        yield local.scheduler_address, client
    _assert_gone(lambda: _children() - before)


@pytest.fixture(scope="module", autouse=True)
def symbolic_budget():
    """SymPy's time budget out of the way (as tests/test_second_derivatives.py does): on a loaded machine
    it can run out on one side of a comparison and not the other, and the witness is then finite
    differences there."""
    from gradcli.engines import symbolic

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(symbolic, "SYMBOLIC_SECONDS", 60.0)
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    """3 Parquet files of y = 0.5 + 2 x1 - tanh(x2) + noise, and a text column the model does not read; their glob."""
    folder = tmp_path_factory.mktemp("dask-data")
    rng = np.random.default_rng(7)
    for k, n in enumerate(SIZES):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        y = 0.5 + 2 * x1 - np.tanh(x2) + 0.1 * rng.normal(size=n)
        pq.write_table(pa.table({"x1": x1, "x2": x2, "y": y, "id": [f"r{k}-{i}" for i in range(n)]}),
                       folder / f"part-{k}.parquet")
    return str(folder / "part-*.parquet")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, data) -> str:
    path = tmp_path_factory.mktemp("dask-model") / "model.json"
    gradcli.train(data, MODEL, save=path)
    return str(path)


def close(a, b, rtol=RTOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(b), 1e-300)))


def test_grad_on_dask_equals_grad_in_memory(cluster, data):
    on_dask = gradcli.gradients(MODEL, "huber", data, PARAMS, check_fd=True, dask=cluster[0]).to_dict()
    in_memory = gradcli.gradients(MODEL, "huber", data, PARAMS, check_fd=True).to_dict()
    assert (on_dask["engine"], in_memory["engine"]) == ("dask", "memory")
    assert on_dask.keys() == in_memory.keys() and on_dask["rows"] == sum(SIZES) and on_dask["files"] == 3
    assert (on_dask["agree"], on_dask["witness"]) == (in_memory["agree"], in_memory["witness"]) == (True, "symbolic")
    assert close(on_dask["loss_value"], in_memory["loss_value"])
    for mine, theirs in zip(on_dask["gradients"], in_memory["gradients"], strict=True):
        assert mine.keys() == theirs.keys() and mine["param"] == theirs["param"]
        assert close(mine["backprop_value"], theirs["backprop_value"])
        assert close(mine["symbolic_value"], theirs["symbolic_value"])
        assert close(mine["fd_value"], theirs["fd_value"], 1e-7)  # a difference quotient: its own rounding
        assert ((mine["agree"], mine["fd_agree"], mine["symbolic"])
                == (theirs["agree"], theirs["fd_agree"], theirs["symbolic"]))


@pytest.mark.parametrize("hvp", [None, "w1=1,w2=-2"])
def test_hessian_on_dask_equals_hessian_in_memory(cluster, data, hvp):
    on_dask = gradcli.hessian(MODEL, "mse", data, PARAMS, hvp=hvp, dask=cluster[0]).to_dict()
    in_memory = gradcli.hessian(MODEL, "mse", data, PARAMS, hvp=hvp).to_dict()
    assert on_dask.keys() == in_memory.keys() and on_dask["rows"] == sum(SIZES)
    for key in ("agree", "fd_agree", "convex", "witness", "wrt"):
        assert on_dask[key] == in_memory[key], key
    assert on_dask["agree"] is True and on_dask["witness"] == "symbolic"
    for key in ("loss", "gradient", "hessian", "symbolic_hessian", "hvp", "symbolic_hvp", "eigenvalues"):
        assert (on_dask[key] is None) == (in_memory[key] is None), key
        if in_memory[key] is not None:
            assert close(on_dask[key], in_memory[key]), key
    for key in ("fd_hessian", "fd_hvp"):  # differences of gradients: their own rounding
        if in_memory[key] is not None:
            assert close(on_dask[key], in_memory[key], 1e-7), key


def test_hessian_on_dask_finds_a_kink_its_stencils_cross_in_any_part(cluster, data):
    """Every row sits at relu's kink (w1 = b = 0): each part's rows cross it, so no difference is taken,
    on Dask as in memory (the crossing is looked for part by part, and one part is enough)."""
    model, params = "relu(w1*x1 + b) + w2*x2", {"w1": 0.0, "b": 0.0, "w2": 0.5}
    on_dask = gradcli.hessian(model, "mse", data, params, dask=cluster[0]).to_dict()
    in_memory = gradcli.hessian(model, "mse", data, params).to_dict()
    assert on_dask["fd_verdict"] == in_memory["fd_verdict"] == "not compared at a kink"
    assert on_dask["fd_agree"] is None and on_dask["agree"] is True
    assert [row is None or None in row for row in on_dask["fd_hessian"]] == [True, True, False]
    assert close(on_dask["fd_hessian"][2], in_memory["fd_hessian"][2], 1e-7)


def read_parts(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(path) for path in sorted(folder.iterdir())])


def test_predict_on_dask_writes_parquet_parts_that_equal_the_predictions_in_memory(cluster, data, saved, tmp_path):
    out = tmp_path / "predictions"
    stale = tmp_path / ".predictions.999999999.0a1b2c3d.tmp"  # a run killed before its rename left it (no such pid)
    stale.mkdir()
    (stale / "part-00000.parquet").write_bytes(b"half")
    result = gradcli.predict(saved, data, output=out, dask=cluster[0])
    in_memory = gradcli.predict(saved, data)
    names = [f"part-{i:05d}.parquet" for i in range(3)]
    assert sorted(os.listdir(out)) == names and result.outputs == [str(out / name) for name in names]
    assert os.listdir(tmp_path) == ["predictions"]  # the staging folder renamed into place, the stale one gone
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # as a directory made by hand
    table = read_parts(out)
    assert result.rows == table.num_rows == sum(SIZES)
    assert table.column_names == ["x1", "x2", "y", "id", "yhat"]
    assert np.array_equal(table.column("yhat").to_numpy(), in_memory.columns["yhat"])
    assert table.column("id").to_pylist() == list(in_memory.columns["id"])


@pytest.mark.parametrize("output, needle", [
    (None, "give --output DIR"),
    ("full", "is a directory with files in it"),
    ("nowhere/out", "does not exist"),
])
def test_predict_on_dask_refuses_an_output_it_cannot_write_whole(cluster, data, saved, tmp_path, output, needle):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "kept.txt").write_text("mine")
    with pytest.raises(GradcliError, match=needle):
        gradcli.predict(saved, data, output=None if output is None else tmp_path / output, dask=cluster[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert os.listdir(tmp_path / "full") == ["kept.txt"]


def test_a_bad_cell_on_a_worker_is_named_by_file_row_and_column(cluster, tmp_path):
    for k, n in enumerate((30, 40)):
        x1 = np.arange(n, dtype=float)
        x1[-1] = np.nan if k == 1 else x1[-1]
        pq.write_table(pa.table({"x1": x1, "y": np.ones(n)}), tmp_path / f"f{k}.parquet")
    pattern = str(tmp_path / "f*.parquet")
    with pytest.raises(GradcliError) as on_dask:
        gradcli.gradients("w*x1", "mse", pattern, "w=1", dask=cluster[0])
    assert str(on_dask.value) == f"{tmp_path / 'f1.parquet'}: column 'x1' is nan at row 40 (values must be finite)"


class KillOnce:
    """A worker plugin (pickled by value to the workers): the first worker to finish a task whose key
    starts with `prefix` kills itself with SIGKILL before it reports the result, once for the
    whole cluster (the marker file), as a machine lost mid-run; every such worker, with `always`."""

    name = "gradcli-kill-once"

    def __init__(self, prefix: str, marker: str, always: bool = False) -> None:
        self.prefix, self.marker, self.always = prefix, marker, always

    def transition(self, key, start, finish, **kwargs):
        name = key if isinstance(key, str) else str(key[0])
        if finish == "memory" and name.startswith(self.prefix):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                if not self.always:
                    return
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def kill_once(cluster, tmp_path):
    import cloudpickle
    from distributed.diagnostics.plugin import WorkerPlugin

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    client = cluster[1]
    marker = tmp_path / "killed"

    armed = []

    def arm(prefix: str, always: bool = False) -> None:
        plugin = type("Plugin", (KillOnce, WorkerPlugin), {})(prefix, str(marker), always)
        client.register_plugin(plugin, name=KillOnce.name)
        armed.append(always)

    yield arm, marker
    client.unregister_worker_plugin(KillOnce.name)
    if not any(armed):
        _wait_for_workers(client)  # the nanny has started another: the next test has two


def _wait_for_workers(client, count: int = 2) -> None:
    deadline = time.monotonic() + 60
    while len(client.scheduler_info()["workers"]) < count:
        assert time.monotonic() < deadline, "the cluster's nannies did not replace the workers killed"
        time.sleep(1)


def test_a_worker_killed_during_grad_is_rerun_and_the_answer_is_the_in_memory_one(cluster, data, kill_once):
    arm, marker = kill_once
    pids = set(cluster[1].run(os.getpid).values())
    arm("run_part")  # a part's witnesses computed, then lost with the worker before they are reported
    on_dask = gradcli.gradients(MODEL, "mse", data, PARAMS, dask=cluster[0])
    in_memory = gradcli.gradients(MODEL, "mse", data, PARAMS)
    assert marker.exists()
    _wait_for_workers(cluster[1])
    assert pids - set(cluster[1].run(os.getpid).values()), "a worker was killed and replaced"
    assert on_dask.rows == in_memory.rows and on_dask.agree is in_memory.agree is True
    for name, gradient in in_memory.gradients.items():
        assert close(on_dask.gradients[name].backprop_value, gradient.backprop_value)


def test_a_worker_killed_during_predict_is_rerun_and_the_directory_is_whole(cluster, data, saved, kill_once, tmp_path):
    arm, marker = kill_once
    arm("write_part")  # a part written, then the worker lost before it says so: the part is written again
    out = tmp_path / "out"
    result = gradcli.predict(saved, data, output=out, dask=cluster[0])
    assert marker.exists() and result.rows == sum(SIZES)
    assert sorted(os.listdir(out)) == [f"part-{i:05d}.parquet" for i in range(3)]  # no temporary file left
    assert np.array_equal(read_parts(out).column("yhat").to_numpy(), gradcli.predict(saved, data).columns["yhat"])


def test_the_command_line_runs_grad_and_predict_on_a_running_cluster(cluster, data, saved, tmp_path):
    address = cluster[0]
    grad = run_program(["grad", MODEL, "--data", data, "--params", "b=0.1,w1=0.7,w2=-0.4", "--dask", address,
                        "--format", "json"], tmp_path)
    assert grad.code == 0, grad
    assert grad.err.startswith("gradcli: dask dashboard at ") and "Traceback" not in grad.err, grad
    report = grad.json()
    in_memory = gradcli.gradients(MODEL, "mse", data, PARAMS).to_dict()
    assert report["engine"] == "dask" and report.keys() == in_memory.keys()
    assert all(close(a["backprop_value"], b["backprop_value"])
               for a, b in zip(report["gradients"], in_memory["gradients"], strict=True))
    predict = run_program(["predict", saved, data, "--dask", address, "--output", "preds"], tmp_path)
    assert predict.code == 0 and predict.out == "", predict
    assert predict.err.splitlines()[-1] == f"gradcli: wrote {sum(SIZES)} rows in 3 Parquet parts to preds", predict
    assert sorted(os.listdir(tmp_path / "preds")) == [f"part-{i:05d}.parquet" for i in range(3)]
    missing = run_program(["predict", saved, data, "--dask", address], tmp_path)
    one_line_error(missing, "give --output DIR")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads other processes' environments")
def test_dask_local_leaves_no_process_behind(tmp_path, data):
    """The cluster gradcli starts is closed when it ends: no process carrying this run's mark is left."""
    mark = uuid.uuid4().hex
    done = run_program(["hessian", MODEL, "--data", data, "--dask", "local", "--workers", "1", "--format", "json"],
                       tmp_path, env={**os.environ, "GRADCLI_TEST_MARK": mark}, timeout=120)
    assert done.code == 0, done
    assert done.json()["rows"] == sum(SIZES)
    _assert_gone(lambda: _marked(mark))


def test_a_part_that_kills_every_worker_running_it_is_one_clean_error_and_nothing_is_written(
        cluster, data, saved, kill_once, tmp_path):
    """Dask gives a task up after allowed-failures + 1 workers died running it (KilledWorker): the
    command ends in one line, exit 2, the staging folder removed. Last of the tests on the shared
    cluster: it is not waited on to have its workers back (under load, their nannies may take a
    minute); the fixture's close must still leave no process behind."""
    arm, _ = kill_once
    arm("write_part", always=True)
    with pytest.raises(GradcliError, match=r"^--dask: 2 Dask workers in turn died running one task \(write_part-"):
        gradcli.predict(saved, data, output=tmp_path / "out", dask=cluster[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _marked(mark: str) -> set[int]:
    found = set()
    for process in psutil.process_iter():
        try:
            if process.environ().get("GRADCLI_TEST_MARK") == mark:
                found.add(process.pid)
        except (psutil.Error, OSError):
            continue
    return found


def _children() -> set[int]:
    """This process's live children but multiprocessing's resource tracker (it lives as long as this process)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


def _assert_gone(left) -> None:
    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left(), f"cluster processes left behind: {sorted(left())}"
