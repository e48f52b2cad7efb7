"""What explain and graph show, built from a prepared problem: the graph view (nodes with values and
adjoints, edges with local derivatives), the paths from each parameter to the loss, and the counts of
operations; for scalar models (scalars.py) and for layers of vectors and matrices (tensors.py)."""
