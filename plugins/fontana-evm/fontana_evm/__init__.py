"""An L1 watcher for Fontana's vault on an EVM chain, over JSON-RPC (HTTP) with web3."""

__version__ = "0.1.0"
