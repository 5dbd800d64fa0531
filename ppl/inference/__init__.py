"""Stage 4, inference: variational families over the unconstrained latents (guides), the ELBO as a
documented objective, and the methods that maximise it: the stochastic method as named stages
(warm start, stochastic refinement, averaging and convergence, recovery), DADVI, EM, the ADVI
baseline, minibatches, amortised guides and warm starts from earlier fits."""
