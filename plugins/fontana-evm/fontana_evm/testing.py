"""Hostile logs on a real node: a contract that emits whatever log it is told to.

The decoder must hold against logs nobody's vault would write: look-alike
events from another address, wrong topic counts, short or long data, dirty
high bytes, zero or huge amounts. A Solidity event cannot produce most of
those, so the emitter is a few hand-assembled EVM instructions: its calldata
is ``k`` 32-byte topics followed by the data, and it runs ``LOGk`` over them.
No compiler is needed, and the bytecode is the whole contract.
"""

from __future__ import annotations

from typing import Any, Final

from fontana_evm.decode import DEPOSITED_TOPIC, RELEASED_TOPIC

_PUSH1, _DUP1, _MLOAD, _SUB, _STOP = 0x60, 0x80, 0x51, 0x03, 0x00
_CALLDATASIZE, _CALLDATACOPY, _CODECOPY, _RETURN, _LOG0 = 0x36, 0x37, 0x39, 0xF3, 0xA0
#: Length of the constructor that returns the runtime code after it.
_INIT_LENGTH: Final = 11


def emitter_runtime(topics: int) -> bytes:
    """Code that copies the calldata to memory and logs it as ``topics`` topics and data."""
    if not 0 <= topics <= 4:
        raise ValueError("LOG0..LOG4 take 0 to 4 topics")
    head = 32 * topics
    code = [_CALLDATASIZE, _PUSH1, 0, _PUSH1, 0, _CALLDATACOPY]
    for i in reversed(range(topics)):  # LOGk takes topic0 nearest the top of the stack
        code += [_PUSH1, 32 * i, _MLOAD]
    code += [_PUSH1, head, _CALLDATASIZE, _SUB, _PUSH1, head, _LOG0 + topics, _STOP]
    return bytes(code)


def emitter_init_code(topics: int) -> bytes:
    """Deployment code: copy the runtime into memory and return it."""
    runtime = emitter_runtime(topics)
    init = bytes(
        [
            _PUSH1,
            len(runtime),
            _DUP1,
            _PUSH1,
            _INIT_LENGTH,
            _PUSH1,
            0,
            _CODECOPY,
            _PUSH1,
            0,
            _RETURN,
        ]
    )
    assert len(init) == _INIT_LENGTH
    return init + runtime


def deploy_emitter(w3: Any, topics: int, sender: str) -> str:
    """Deploy an emitter of ``topics``-topic logs from the unlocked ``sender``; its address."""
    tx = w3.eth.send_transaction({"from": sender, "data": emitter_init_code(topics)})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise RuntimeError("the emitter was not deployed")
    return str(receipt["contractAddress"])


def emit(w3: Any, emitter: str, topics: list[bytes], data: bytes, sender: str) -> Any:
    """Have ``emitter`` log ``topics`` (32 bytes each) and ``data``; the receipt."""
    if any(len(t) != 32 for t in topics):
        raise ValueError("a topic is 32 bytes")
    calldata = b"".join(topics) + data
    tx = w3.eth.send_transaction({"from": sender, "to": emitter, "data": calldata, "gas": 200_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    if receipt["status"] != 1:
        raise RuntimeError("the emitter reverted")
    return receipt


def word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an integer big-endian, bytes left-padded with zeros."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\0")


def deposited(
    deposit_id: int, sender: bytes, rollup: bytes, token: bytes, amount: int
) -> tuple[list[bytes], bytes]:
    """Topics and data of a well-formed ``Deposited`` log."""
    topics = [DEPOSITED_TOPIC, word(deposit_id), word(sender), word(rollup)]
    return topics, word(token) + word(amount)


def released(
    burn_id: bytes, recipient: bytes, token: bytes, amount: int, height: int
) -> tuple[list[bytes], bytes]:
    """Topics and data of a well-formed ``Released`` log."""
    return [RELEASED_TOPIC, burn_id, word(recipient)], word(token) + word(amount) + word(height)
