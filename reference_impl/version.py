"""The version of reference_impl, which its implementations report (``impl.version``)."""
__version__ = "0.1.0"
