"""The language layer: text -> Problem.

The safe parser (expr), the table of operations (ops), the built-in losses, the
roles of names (problem) and which CSV columns a model uses (columns). Pure
Python: nothing here imports NumPy or SymPy at import time.
"""
