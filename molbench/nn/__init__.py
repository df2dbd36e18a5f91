"""PyTorch models of molbench's bundled baselines (needs the ``torch`` extra)."""
