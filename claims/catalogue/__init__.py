"""The claim catalogue: one module per paper (or per group of claims), each registering its claims.

claims.registry imports them all; this package imports none of them, so that a module that needs
only the catalogue's negative controls (claims.plugins: fischer_controls, nfd_controls) imports
those without the claims.
"""
