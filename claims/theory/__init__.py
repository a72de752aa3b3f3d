"""Closed-form and numerical theory behind the claims (kernel recursions, optimal scalings).

Modules: ``gaussian`` (Gaussian expectations of activations: closed forms and quadrature) and
``fischer`` (mean-field theory of Fischer, Dahmen & Helias's residual network: kernel recursion,
its one-loop 1/N correction, the response function and the optimal residual scaling).
"""
