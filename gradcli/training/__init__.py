"""The train task: options (light, read by --help), optimisers, the training loop, the
closed-form check and fit(), which puts them together. Uses the engines and the
comparison of the two engines; never the CLI or the views.
"""
