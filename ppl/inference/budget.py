"""Memory, counted before it is taken. A gradient holds a few arrays of (draws, elements) at once; where
they cannot fit in the memory this machine has free, the fit is refused before it starts, naming the
largest latent, rather than left to the operating system, which kills the process (it does, rather than
raise MemoryError, when memory is overcommitted). Summaries and draws that would not fit are taken in
fewer draws, or refused when a person asked for that many."""
import os

from ..errors import PPLRuntimeError

COPIES = 4        # arrays of (draws, elements) alive at once in a gradient: values, adjoints, temporaries
SHARE = 0.5       # of the free memory, what one fit's arrays may take


def free_bytes():
    """The memory this machine has free now, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def per_draw_bytes(model, guide):
    """One draw's float64 elements in a gradient: the latents, q's noise, the data-sized terms."""
    return 8 * (model.data_size + guide.noise_dim + model.dim + model.count_dim + 1)


def check_gradient(model, guide, draws, hint):
    """Refuse a fit whose gradients with `draws` draws cannot fit in free memory."""
    need, free = COPIES * draws * per_draw_bytes(model, guide), free_bytes()
    if free is None or need <= SHARE * free:
        return
    blocks = model.latents + model.counts
    largest = max(blocks, key=lambda b: getattr(b, "size", 0)) if blocks else None
    raise PPLRuntimeError("a gradient with %d draws needs about %.3g GB, and this machine has %.3g GB free" % (
        draws, need / 1e9, free / 1e9), getattr(largest, "span", None), model.source,
        hint=hint if largest is None else "the largest latent is here (%d elements); %s" % (largest.size, hint))


def draws_within(n, elements):
    """How many of n draws of `elements` float64 values fit in the share of free memory (at least 100)."""
    free = free_bytes()
    if free is None or elements <= 0:
        return n
    return int(max(100, min(n, SHARE * free // (COPIES * 8 * elements))))
