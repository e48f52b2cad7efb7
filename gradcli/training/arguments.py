"""train's arguments, as the CLI and the public API give them, checked before anything is read.

A bad one is a GradcliError naming its option; the order of the checks is the order of the
messages a user sees when several are wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.arguments import callback, choice, flag, memory_budget, number, parameter_values, probability, text, whole
from ..io.arguments import delimiter as checked_delimiter
from ..io.distributed import dask_target
from ..io.layers import input_spec
from ..io.outputs import check_outputs, check_plot
from ..io.sources import is_spec, model_text, one_stdin, param_values
from .models import ChosenModel
from .options import OPTIMIZERS, TrainOptions


@dataclass(frozen=True)
class TrainArguments:
    """What train() was asked to do, checked: everything but the data's rows."""

    options: TrainOptions
    loss: str
    target: str
    delta: float
    delimiter: str
    budget: int  # --memory in bytes: larger data is streamed
    where: str | None  # --dask: "local" or a scheduler's address; None without
    fraction: float | None  # --validation
    chosen: ChosenModel | None  # None: the default model, made from the columns
    from_file: bool  # the model came from --model-file
    start: dict[str, Any]  # --init
    layers: dict[str, Any]  # --shape, --dim and --input, as layered_problem takes them
    outputs: dict[str, Path]  # --save, --history and --plot that were given


def train_options(optimizer: str, lr: float | None, epochs: int, batch_size: int | None, seed: int, tol: float,
                  patience: int, precondition: bool) -> TrainOptions:
    """The options as the CLI checks them; a bad one is a GradcliError naming its option."""
    return TrainOptions(
        choice(optimizer, "--optimizer", OPTIMIZERS), number(lr, "--lr", above=0.0, none=True),
        whole(epochs, "--epochs", 1), whole(batch_size, "--batch-size", 1, none=True), whole(seed, "--seed", 0),
        number(tol, "--tol", least=0.0), whole(patience, "--patience", 1),
        flag(precondition, "precondition"))


def train_arguments(options: TrainOptions, data: Any, model: str | None, *, model_file: Any, loss: str, delta: float,
                    target: str, init: Any, save: Any, history: Any, plot: Any, delimiter: str, memory: Any,
                    dask: str | None, workers: int | None, shapes: Any, dims: Any, inputs: Any,
                    validation: float | None, callbacks: Mapping[str, Callable[..., Any] | None]) -> TrainArguments:
    """train()'s arguments checked (`options` by train_options first), each a GradcliError naming its
    option; the output files are checked before training starts."""
    text(loss, "--loss"), text(target, "--target"), number(delta, "--delta")
    for name, function in callbacks.items():
        callback(function, name)
    fraction = probability(validation, "--validation", none=True)
    spec = input_spec(inputs)
    where = dask_target(dask, workers, data)
    delimiter = checked_delimiter(delimiter)
    one_stdin({"the data": data, "--model-file": model_file, "--init": init})
    read = [os.fspath(spec) for spec in (data, model_file, init) if is_spec(spec)]
    outputs = check_outputs({"--save": save, "--plot": plot, "--history": history}, read)
    check_plot(None if plot is None else os.fspath(plot))
    chosen, from_file = None, False
    if model is not None or model_file is not None:
        written, from_file = model_text(model, model_file)
        chosen = ChosenModel(written, False)
    start = parameter_values(param_values(init, "--init"), "--init")
    return TrainArguments(options, loss, target, delta, delimiter, memory_budget(memory), where, fraction, chosen,
                          from_file, start, {"shapes": shapes, "dims": dims, "inputs": spec}, outputs)
