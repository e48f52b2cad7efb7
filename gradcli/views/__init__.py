"""Views: one module per command's output (Rich tables and trees, JSON, CSV, DOT, Mermaid,
LaTeX). A view renders the plain data a task returns and computes nothing; each offers its
command's formats (formats.py).

Rich is imported inside the functions that draw with it: JSON, CSV and a command's --help never
load it (rich.markup alone takes 50 ms).
"""
