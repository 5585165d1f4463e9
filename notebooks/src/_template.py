# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# <!--
# The skeleton of a notebook of the series (docs/NOTEBOOKS.md). To start a new notebook:
#   1. copy this file to notebooks/src/NN_short_name.py (files starting with `_` are never built);
#   2. add ("NN_short_name", "Title") to SERIES in scripts/build_notebooks.py (title, navigation, badges);
#   3. write the body below, then `make notebooks` and execute it (docs/NOTEBOOKS.md, "Build, execute, check").
# The frame (title, navigation, Colab/Binder badges, Colab set-up cell, closing navigation) is added by the build:
# do not write it here. The example body (Debye heat capacity) runs as it is; replace it with your topic.
# -->
# **What you will learn**
#
# - one bullet per idea the reader takes away (3–5 bullets);
# - name the `utils` functions the notebook develops ("teach, then import");
# - end with what the reader can now compute or check.
#
# **Time**: runs in N s on 2 CPU cores (FAST and full, measured); reading time about N min.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
# (the line above shows figures inline even where MPLBACKEND is set, e.g. in headless runs)
import matplotlib.pyplot as plt
import numpy as np

import utils
from utils.thermo import R_GAS, debye_dos, debye_heat_capacity, heat_capacity

info = utils.setup(seed=0)   # seeds, device, plot style; prints the mode and library versions
FAST = info["fast"]          # FAST=1 (CI, instructors): take the short path in slow cells
TRAIN = info["train"]        # TRAIN=1: retrain instead of loading the shipped checkpoint

# %% [markdown]
# ## 1. Motivation → equation → symbols
#
# One or two sentences on why the reader needs this. Then the equation, and a table of its symbols with units:
#
# $$
# C_V(T) = 3R \int_0^\infty \left(\frac{x}{2}\right)^2 \operatorname{csch}^2\!\left(\frac{x}{2}\right) g(\tilde\nu)\,
# d\tilde\nu, \qquad x = \frac{h c \tilde\nu}{k_B T}
# $$
#
# | symbol | meaning |
# |---|---|
# | $g(\tilde\nu)$ | phonon DoS with unit area (1/cm⁻¹) |
# | $\tilde\nu$ | wavenumber (cm⁻¹) |
# | $T$ | temperature (K) |
# | $R$ | molar gas constant, 8.314 J/(mol K) |

# %%
# One idea per code cell, ≤ 25 lines; shapes in comments.
freq_cm1 = np.linspace(0.0, 1000.0, 1001)           # (1001,) wavenumber grid, cm⁻¹
dos = debye_dos(freq_cm1, cutoff_cm1=300.0)         # (1001,) Debye DoS, unit area
temperature_K = np.linspace(5.0, 1000.0, 200)       # (200,)
cv = heat_capacity(freq_cm1, dos, temperature_K)    # (200,) J/(mol K), per mole of atoms
print(f"C_V(1000 K) = {cv[-1]:.2f} J/(mol K); Dulong–Petit 3R = {3 * R_GAS:.2f} J/(mol K)")

# %% [markdown]
# ## 2. A plot (units on every axis label)

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(temperature_K, cv, label="from the DoS")
ax.axhline(3 * R_GAS, ls="--", color="gray", label="3R (Dulong–Petit)")
ax.set(xlabel="temperature T (K)", ylabel="C_V (J/(mol K))")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. A numeric check that the claim holds (an `assert` with a tolerance)

# %%
theta_D = 1.438777 * 300.0   # Θ_D = h c ν̃_D / k_B in K (h c / k_B = 1.438777 K cm, CODATA 2018)
exact = np.array([debye_heat_capacity(t, theta_D) for t in temperature_K])
worst = np.abs(cv - exact).max() / (3 * R_GAS)
print(f"largest deviation from the exact Debye integral: {worst:.1e} of 3R")
assert worst < 1e-3

# %% [markdown]
# ## Summary
#
# - one bullet per thing learned, each with the function or number that shows it.
#
# ## Exercises
#
# **1. A first exercise.** Ask for one change and one prediction of what it does.
#
# <details><summary>Solution</summary>
#
# The answer, with the code that checks it.
#
# ```python
# print(heat_capacity(freq_cm1, debye_dos(freq_cm1, cutoff_cm1=600.0), 300.0))
# ```
# </details>
