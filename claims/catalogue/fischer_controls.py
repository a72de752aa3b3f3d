"""Negative controls of the Fischer et al. claims that reference_impl.controls does not already have.

Registered into reference_impl.controls.CONTROLS on import (as nfd_controls does), so ``--impl NAME``
and the control tests find them. Each is a SpecDefect: the reference building a spec with one
field wrong while the caller declares the right one.

- ``fischer-sigma-squared``: weight variance sigma_w^4 / n instead of sigma_w^2 / n (the standard
  deviation applied twice). alpha and sigma_w enter the network only through alpha * sigma_w, so
  alpha* then scales as sigma_w^-2 instead of sigma_w^-1: fischer.alpha_star_weak_sigma_dependence
  measures an exponent -1 instead of -1/2.
- ``fischer-hidden-depth-scaling``: the branch multiplier L^-1/2 applied (beta = 1/2) while the
  spec declares a depth-independent alpha (beta = 0): a Marion/Hayou-style scaling switched on by
  mistake. The effective alpha is 1/sqrt(L) times the declared one, which moves every argmax.

- ``fischer-input-unit``: the input layer drawn N(0, 1/d) while the spec declares N(0, sigma_w^2/d):
  the first hidden variance no longer follows sigma_w^2.
- ``fischer-weight-outside``: the block h + alpha V phi(h) built while the spec declares
  h + alpha phi(V h) (sigma_w moved outside the nonlinearity, where it is a relabelling of alpha).

Controls of reference_impl.controls used here as well: ``scale-twice`` (alpha^2 instead of alpha) and
``sigma-ignored`` (variance 1/n whatever sigma_w^2 is declared).
"""
from __future__ import annotations

from reference_impl.controls import CONTROLS, SpecDefect

FISCHER_CONTROLS: dict[str, SpecDefect] = {
    c.name: c
    for c in (
        SpecDefect("fischer-sigma-squared", "weight variance sigma_w^4 / n instead of sigma_w^2 / n",
                   lambda s: s.with_(sigma_w2=s.sigma_w2**2)),
        SpecDefect("fischer-hidden-depth-scaling", "branch multiplier alpha L^-1/2 while declaring alpha (beta = 0)",
                   lambda s: s.with_(beta=s.beta + 0.5)),
        SpecDefect("fischer-input-unit", "input layer N(0, 1/d) while declaring N(0, sigma_w^2/d)",
                   lambda s: s.with_(input_scale="unit") if s.input_dim is not None else s),
        SpecDefect("fischer-weight-outside", "block h + alpha V phi(h) while declaring h + alpha phi(V h)",
                   lambda s: s.with_(block="res1") if s.block == "res1w" else s),
    )
}
for _name, _control in FISCHER_CONTROLS.items():  # resolvable by name (--impl, control tests)
    CONTROLS.setdefault(_name, _control)
