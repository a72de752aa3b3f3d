"""resnet-claims: theoretical claims about deep ResNets as executable statistical tests."""
__version__ = "0.1.0"
