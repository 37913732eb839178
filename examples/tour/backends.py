"""Array backends: the same program and its gradient on NumPy, on chunked Dask arrays
(eager and under jit), and on CuPy when a GPU is present."""
import numpy as np
from tqdm.auto import tqdm

import adjoin as ad
import adjoin.numpy as anp
from adjoin import backends

from . import figure_backend, section

N, STEPS, NU = 64, 10, 0.2


def diffusion_loss(u):
    """STEPS explicit steps of 2-D periodic diffusion, then the mean square."""
    for _ in range(STEPS):
        lap = (anp.roll(u, 1, 0) + anp.roll(u, -1, 0) + anp.roll(u, 1, 1)
               + anp.roll(u, -1, 1) - 4.0 * u)
        u = u + NU * lap
    return anp.mean(u * u)


def run(out_dir):
    section("array backends: one program on NumPy, Dask and (with a GPU) CuPy")
    x = np.linspace(0, 2 * np.pi, N, endpoint=False)
    u0 = np.sin(x)[:, None] * np.cos(2 * x)[None, :] + 0.3 * np.cos(5 * x)[None, :]
    g_np = ad.grad(diffusion_loss)(u0)
    print(f"{N}² grid, {STEPS} diffusion steps; gradient of the mean square on NumPy: "
          f"|g| = {np.linalg.norm(g_np):.8f}")
    try:
        import dask
        import dask.array as da
    except ImportError:
        print("(dask is not installed: pip install 'adjoin[dask]' for the Dask rows)")
        return
    u0_d = da.from_array(u0, chunks=(N // 2, N // 2))
    with tqdm(total=3, desc="Dask: build, compute, jit", leave=False) as bar:
        g_d = ad.grad(diffusion_loss)(u0_d)
        bar.update()
        with dask.config.set(scheduler="threads"):
            g_dc = g_d.compute()
            bar.update()
            g_jit = ad.jit(ad.grad(diffusion_loss))(u0_d).compute()
            bar.update()
    print(f"on Dask (2×2 chunks): grad returns a lazy {type(g_d).__name__} of "
          f"{len(dict(g_d.__dask_graph__()))} tasks")
    print(f"  computed: max |Dask − NumPy| = {np.max(np.abs(g_dc - g_np)):.1e}; "
          f"under jit: {np.max(np.abs(g_jit - g_np)):.1e}")
    _cupy_row(u0, g_np)
    plt = figure_backend()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
        im = ax.imshow(g_dc, origin="lower", cmap="RdBu_r")
        for k in (N // 2,):
            ax.axhline(k - 0.5, color="k", lw=0.8, ls="--")
            ax.axvline(k - 0.5, color="k", lw=0.8, ls="--")
        ax.set_title("∂loss/∂u₀ computed on Dask (chunks dashed)", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
        fig.tight_layout()
        fig.savefig(out_dir / "backends_dask_gradient.png", dpi=120)
        plt.close(fig)
        print(f"figure: {out_dir / 'backends_dask_gradient.png'}")


def _cupy_row(u0, g_np):
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as e:
        print(f"CuPy: not run here ({type(e).__name__}: {str(e).splitlines()[0][:60]}); "
              "with a GPU, pass cupy.asarray(u0) and the same lines run on it")
        return
    g = ad.jit(ad.grad(diffusion_loss))(cupy.asarray(u0))
    print(f"on CuPy under jit: max |CuPy − NumPy| = "
          f"{np.max(np.abs(backends.to_numpy(g) - g_np)):.1e}")
