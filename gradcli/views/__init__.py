"""Views: one module per command's output (Rich tables and trees, JSON, CSV, DOT, Mermaid,
LaTeX). A view renders the plain data a task returns and computes nothing.
"""
