"""Yao, Wu, Gao: Neural Feature Dynamics / "Feature Learning Dynamics in Infinite-Depth Neural
Networks" (arXiv 2512.21075). Definitions, derivations, pilot numbers: ../nfd2025.md.

Setting (``setting``): one-layer-block pre-activation ResNet, tanh, muP input and readout layers
(frozen), depth-muP branch multiplier L^-1/2 and SGD learning rate constant in n and L (Tensor
Programs VI, arXiv 2310.02244; Bordelon et al. 2309.16620), full-batch SGD on a seeded regression
task, trained through reference_impl/training/. The coupling statistics (derived, nfd2025.md
section 2):

  D_t  = E[f_t(true) - f_t(decoupled)], the trained output at the training input after t steps,
         decoupled = construction (a) of the note (paired: only W_l's action on the initial forward
         feature is replaced by an independent draw);
  c_l(t) = <q_l, M_l^T ghat_l(t)>/sqrt(n), q_l = x_l(0)/|x_l(0)|: the reused-weight component of the
         layer-l backward product at step t (M_l = W_l(0) for true backprop);
  A_t  = sum_l L^-1/2 E[c_l(t)]: its accumulated contribution to the backward signal (units of the
         readout-scale gradient coordinates); kappa_t = A_t / L the per-layer term.

Every fit uses per-cell means with their Monte Carlo covariance (networks within a cell), so the
achieved standard errors are part of each fit (../measures.py); notes print them.

Modules, one per claim or pair of claims: ``init_coupling`` (nfd.init_coupling_width,
nfd.init_coupling_depth_uniform), ``survival`` (nfd.sgd_coupling_survives_width), ``sgd_depth``
(nfd.sgd_coupling_depth), ``depth_error`` (nfd.depth_error), ``norms``
(nfd.preact_stable_postact_explodes). The v1 claims are in ../nfd2025_v1.py, the depth coord check
in ../coord_check.py, the controls in ../nfd_controls.py.
"""
# imported in the catalogue's order (resnet-claims list, results.json): each registers its claims on import
from . import init_coupling, survival, sgd_depth, depth_error, norms  # noqa: F401
