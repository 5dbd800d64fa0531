"""A run's record of itself: the ELBO trace, progress reports and a monitor's view of each iterate."""


def trace_recorder(trace, progress, monitor, objective):
    """An L-BFGS callback: keeps the ELBO trace, reports progress, lets a monitor see the iterate."""
    def record(x, value):
        trace.append(-value)
        if progress:
            progress(len(trace), -value)
        if monitor:
            monitor(x, objective.evals)
    return record
