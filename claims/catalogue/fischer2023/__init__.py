"""Fischer, Dahmen, Helias: "Field theory for optimal signal propagation in ResNets" (arXiv 2305.07715).

The abstract (quoted in fischer2023.md) names the network family, not the network: a residual
branch with a scaling parameter alpha, a weight variance sigma_w^2. The response claims therefore
declare **readings** (the block forms and input layers a reader of the abstract could take), each
run separately; every prediction is derived (not quoted from the paper) from the mean-field
recursions in claims/theory/fischer.py, derivations in fischer2023.md. Readings (erf, no readout):

- ``Vphi``        h + alpha (V phi(h)),            no input layer   (alpha and sigma_w enter only as alpha sigma_w)
- ``Vphi+input``  the same after an input layer U x, U entries N(0, sigma_w^2 / d)
- ``Vphi+bias``   h + alpha (V phi(h) + b), b ~ N(0, 0.05)
- ``phiW``        h + alpha phi(V h)                 (sigma_w inside the nonlinearity)
- ``phiW+input``  the same after the input layer of variance sigma_w^2 / d

Response (pre-registered): chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), dc = 0.05, of the cosine
similarity c of the output states of one network for inputs of equal norm sqrt(q0 d), q0 = 1, with
exact pairwise correlations (Gram-Schmidt); c0 is swept where the claim says so. Where the argmax
of the response is measured, it is the **shift** of the theory's response curve: the
infinite-width response at the cell's depth, as a function of log alpha, fitted to the measured
mean response over every lattice point with a free shift s in log alpha and a free level (the
measured argmax is the theory's argmax times e^s), jackknife intervals over independent groups
of networks (fischer2023.md section 6).

Kinds: the two kernel claims and the response-argmax claim test derived predictions of the paper's
theory; the weak-sigma claim tests the paper's words under each reading; the empirical-range claim
checks the derived depth map on which the paper's words are judged (its statement carries the
finding).

Modules: ``networks`` (the readings' networks and the paper's constants), ``response`` (the
response measurement, the alpha lattice and the theory curve), ``shift`` (the shift fit and its
jackknife, shared by the three response claims), ``depth_window`` (the derived depth map of the
empirical range); one module per claim or pair of claims: ``kernel`` (kernel_recursion_finite_n,
kernel_fluctuation_finite_n), ``argmax`` (response_argmax), ``weak_sigma``
(alpha_star_weak_sigma_dependence), ``empirical_range`` (empirical_range_is_max_sensitivity).
The negative controls are in ../fischer_controls.py.
"""
from .. import fischer_controls  # noqa: F401  (registers the controls the claims list, before any digest)

# imported in the catalogue's order (resnet-claims list, results.json): each registers its claims on import
from . import kernel, argmax, weak_sigma, empirical_range  # noqa: F401, E402
