"""The stochastic method, as the README describes a fit, one stage per module:

1. warmup: L-BFGS on the ELBO averaged over a fixed set of draws (common random numbers make it a
   deterministic function): quasi-Newton steps find every coordinate's location and scale, whatever
   the model's units, in a few dozen gradients.
2. refine: steps with fresh draws, scaled by the inverse Fisher information of q (a step measured in
   q's own standard deviations, and clipped to one of them); Adam for the params.
3. averaging: when the ELBO stops improving across windows of steps, the iterates are averaged until
   the average has settled; it removes both the steps' noise and the warm-up's fixed-draw bias.
4. recovery: a step that fails is undone with smaller steps; a run that diverges is rolled back to
   where the warm-up left it.

The optimiser's state is a value (state.RefineState, state.FitState): a step is a function of the
state that returns the next one. run.optimise is the loop around the stages; it alone owns progress,
checkpoints, Ctrl-C and the time limit, so a stop between steps resumes bit for bit.
"""
