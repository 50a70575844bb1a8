"""The L1 bridge: vault checkpoints and calls, and the handlers of its events (docs/bridge.md).

Submodules that talk to an EVM chain import web3 or eth-account (the ``evm`` extra);
importing this package needs neither.
"""
