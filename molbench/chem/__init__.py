"""Chemistry that molbench writes itself: acyclic hydrocarbon graphs and their notations."""
