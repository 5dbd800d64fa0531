"""Stage 5, results: a Fit (draws in the constrained space, summaries), evidence estimates, PSIS,
model comparison, saving and loading, ArviZ, plots and HTML display."""
