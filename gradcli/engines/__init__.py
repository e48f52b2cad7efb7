"""The engines: a Problem's derivatives, two independent ways.

symbolic (SymPy from the parsed tree), graph (the node-by-node backprop that
`explain` shows), sweep (the same graph compiled for many rows), and the
numeric helpers they share (BLAS threads, finiteness checks). An engine
imports only the language layer below it: never io, the tasks, views or the CLI.
"""
