"""Negative controls of the Fischer et al. claims that reference_impl.controls does not already have.

Registered into reference_impl.controls.CONTROLS on import (as nfd_controls does), so ``--impl NAME``
and the control tests find them. Each is a SpecDefect: the reference building a spec with one
field wrong while the caller declares the right one.

- ``fischer-hidden-depth-scaling``: the branch multiplier L^-1/2 applied (beta = 1/2) while the
  spec declares a depth-independent alpha (beta = 0): a Marion/Hayou-style scaling switched on by
  mistake. The effective alpha is 1/sqrt(L) times the declared one, which moves every argmax.
- ``fischer-weight-outside``: the block h + alpha V phi(h) built while the spec declares
  h + alpha phi(V h): sigma_w moved outside the nonlinearity, where it only relabels alpha, so
  alpha* follows sigma_w^-1 much more closely (fischer.alpha_star_weak_sigma_dependence rejects it).

Controls of reference_impl.controls used by the Fischer claims as well: ``scale-twice`` (alpha^2
instead of alpha), ``fan-in-plus-one`` and ``shared-weights`` (finite-width coefficients).
"""
from __future__ import annotations

from reference_impl.controls import CONTROLS, SpecDefect

FISCHER_CONTROLS: dict[str, SpecDefect] = {
    c.name: c
    for c in (
        SpecDefect("fischer-hidden-depth-scaling", "branch multiplier alpha L^-1/2 while declaring alpha (beta = 0)",
                   lambda s: s.with_(beta=s.beta + 0.5)),
        SpecDefect("fischer-weight-outside", "block h + alpha V phi(h) while declaring h + alpha phi(V h)",
                   lambda s: s.with_(block="res1") if s.block == "res1w" else s),
    )
}
for _name, _control in FISCHER_CONTROLS.items():  # resolvable by name (--impl, control tests)
    CONTROLS.setdefault(_name, _control)
