"""A VAE on scikit-learn's 8x8 digits: program 8 (examples/vae.ppl) with an amortised guide.

    python examples/vae_digits.py [seconds]       # needs scikit-learn (pip install ".[test]")

Trains the decoder (the params) and an encoder q(z[n] | x[n]) by maximising the ELBO for `seconds`
(default 20), printing the ELBO as it rises; reports the ELBO of 297 held-out digits (the encoder
is applied to them, the params held); trains the same model for the same time without amortising
(q's factors fitted per digit; for held-out digits they are refitted) and compares; and writes
vae_reconstructions.png: held-out digits (top row) above their reconstructions, the decoder's
pixel probabilities at the encoder's mean z (bottom row).
"""
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

import ppl

HERE = Path(__file__).resolve().parent
H = 16                 # the decoder's hidden units
ENCODER = [32]         # the encoder's hidden layer sizes


def digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example loads scikit-learn's digits: pip install scikit-learn (or '.[test]')")
    x = (load_digits().data > 7).astype(int)          # 1797 images, pixels 0..16 -> 0/1
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:1500]], x[order[1500:]]


def train(model, data, seconds, amortize):
    started, shown = time.perf_counter(), [0.0]

    def progress(step, elbo):
        now = time.perf_counter() - started
        if now >= shown[0]:
            print("  %5.1f s  step %5d  ELBO per digit %8.3f" % (now, step, elbo / len(data["x"])), flush=True)
            shown[0] = now + seconds / 6
    return model.fit(data, seed=0, amortize=amortize, max_seconds=seconds, progress=progress)


def decode(params, z):
    hidden = np.tanh(z @ params["W1"] + params["b1"])
    return 1.0 / (1.0 + np.exp(-(hidden @ params["W2"] + params["b2"])))


def write_png(path, image):
    """A greyscale PNG of an array of values in [0, 1]."""
    rows = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", image.shape[1], image.shape[0], 8, 0, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                           + chunk(b"IEND", b""))


def montage(originals, reconstructions, scale=4):
    def row(images):
        tiles = [np.pad(im.reshape(8, 8), 1, constant_values=0.5) for im in images]
        return np.concatenate(tiles, axis=1)
    grid = np.concatenate([row(originals), row(reconstructions)], axis=0)
    return np.kron(grid, np.ones((scale, scale)))


def main(seconds=20.0):
    model = ppl.load(HERE / "vae.ppl")
    x_train, x_test = digits()
    data, held = {"x": x_train, "H": H}, {"x": x_test, "H": H}

    print("VAE (encoder %s) on %d digits, %g s:" % (ENCODER, len(x_train), seconds))
    vae = train(model, data, seconds, {"z": ENCODER})
    vae_held = vae.held_out(held)
    print("ELBO per digit: training %.3f, held-out %.3f (encoder, params held)" % (
        vae.elbo / len(x_train), vae_held.elbo / len(x_test)))

    print("\nThe same model without amortising (q's factors per digit), %g s:" % seconds)
    plain = train(model, data, seconds, None)
    plain_held = plain.held_out(held)
    print("ELBO per digit: training %.3f, held-out %.3f (q refitted per held-out digit, params held)" % (
        plain.elbo / len(x_train), plain_held.elbo / len(x_test)))
    print("\nheld-out ELBO per digit in the same time: amortised %.3f vs per-digit %.3f" % (
        vae_held.elbo / len(x_test), plain_held.elbo / len(x_test)))

    z_mean = vae_held.draws(200)["z"].mean(axis=0)
    shown = np.arange(12)
    image = montage(x_test[shown], decode(vae.params(), z_mean[shown]))
    write_png("vae_reconstructions.png", image)
    print("wrote vae_reconstructions.png: 12 held-out digits above their reconstructions")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
