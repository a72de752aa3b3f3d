"""Adapters for third-party libraries (the ``[thirdparty]`` extra): their networks through the contract."""
