"""A model with a vector or matrix parameter, given to every command: each one answers, or refuses in
one line with exit 2. None may end in an internal error (hessian and check met a KeyError)."""

from __future__ import annotations

import pytest

MODEL = "W @ x + b"
POINT = "x1=1,x2=2,y=1"
COMMANDS = {
    "grad": ["grad", MODEL, "--data", POINT],
    "explain": ["explain", MODEL, "--data", POINT],
    "graph": ["graph", MODEL],
    "hessian": ["hessian", MODEL, "--data", POINT],
    "check": ["check", MODEL, "--wrt", "b", "--claim", "2*(yhat - y)", "--data", POINT],
    "diff": ["diff", MODEL, "--wrt", "b", "--at", "x1=1,x2=2,b=0"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_or_refuses_a_vector_model_in_one_line(gradcli, command):
    result = gradcli(*COMMANDS[command])
    assert result.code in (0, 2), result
    assert "internal error" not in result.err and "Traceback" not in result.err, result.err
    if result.code == 2:
        assert len(result.err.strip().splitlines()) == 1, result.err


@pytest.mark.parametrize("command", ["hessian", "check"])
def test_hessian_and_check_name_the_vector_they_cannot_take(gradcli, command):
    result = gradcli(*COMMANDS[command])
    assert result.code == 2
    assert "takes scalar parameters, and W is a vector of 2" in result.err, result.err
