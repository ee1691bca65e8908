"""What a run shows besides the science products: the figures and the summary table."""
