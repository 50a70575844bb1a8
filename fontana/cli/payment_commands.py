"""Paying commands: call a paid API, withdraw to L1 (the burn), verify a receipt.

``call`` pays from the wallet through the local ledger (``storage.url``) or,
with ``--node``, a node's HTTP API; so does ``withdraw``. ``receipt verify``
needs only the genesis (the local ledger's, or ``--genesis FILE``) and, with
``--da``, the DA layer (``da.url``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from fontana import strict_json
from fontana.address import encode_address
from fontana.amounts import format_amount, parse_amount
from fontana.cli.output import emit, json_option, printable
from fontana.errors import EncodingError, FontanaError

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.models import Genesis
    from fontana.sdk.sources import WalletSource
    from fontana.wallet import Wallet

#: How long a withdrawal stays valid if it is not sealed.
WITHDRAW_EXPIRY_S: Final = 600
#: A request body or receipt file named on the command line.
MAX_FILE: Final = 1 << 20
_L1_ADDRESS_RE: Final = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]{40})", re.ASCII)
_HEADER_NAME_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
_METHOD_RE: Final = re.compile(r"[A-Za-z]{1,16}", re.ASCII)


def wallet_and_source(settings: Settings, node: str | None) -> tuple[Wallet, WalletSource]:
    """The configured wallet key, and the node at ``node`` or else the local ledger."""
    from fontana.sdk.sources import as_source
    from fontana.wallet import load_key

    wallet = load_key(settings.home, settings.wallet.key_name, settings.wallet.passphrase)
    if node is not None:
        return wallet, as_source(node)
    from fontana.ledger import open_ledger

    return wallet, as_source(open_ledger(settings))


def _read_file(path: Path, what: str) -> bytes:
    from fontana.files import read_input_file

    def fail(reason: str) -> FontanaError:
        return FontanaError(f"{what} {path}: {reason}", code="file_error")

    try:
        return read_input_file(path, MAX_FILE, fail)
    except FileNotFoundError:
        raise fail("no such file") from None


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _HEADER_NAME_RE.fullmatch(name) or re.search(r"[\x00-\x1f\x7f]", value):
        raise click.BadParameter(f"{text!r:.80}: expected 'Name: value'", param_hint="-H")
    return name, value


def _body(data: str | None) -> bytes | None:
    """``-d TEXT`` as UTF-8, or ``-d @FILE``'s bytes."""
    if data is None:
        return None
    if data.startswith("@"):
        return _read_file(Path(data[1:]), "-d")
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"-d: not valid UTF-8 (character {exc.start})") from None


@click.command("call")
@click.argument("url")
@click.option(
    "-X", "--request", "method", default=None, help="HTTP method (default GET, or POST with -d)."
)
@click.option("-d", "--data", default=None, help="Request body: text, or @FILE for a file's bytes.")
@click.option("-H", "--header", "headers", multiple=True, help="'Name: value'; repeat it.")
@click.option("--max-price", default=None, help="The most to pay, fee included (1500, 1.5tia).")
@click.option("--node", default=None, help="Pay through this node's API, not the local ledger.")
@json_option
def call_command(
    url: str,
    method: str | None,
    data: str | None,
    headers: tuple[str, ...],
    max_price: str | None,
    node: str | None,
    as_json: bool,
) -> None:
    """Call URL, paying from your wallet if it answers 402; the body goes to stdout.

    The receipt goes to stderr (or into the JSON document with --json). An
    answer of 400 or more exits with status 1: such a call is never charged.
    """
    import requests

    from fontana.config import load_settings
    from fontana.sdk.client import Client

    method = method or ("POST" if data is not None else "GET")
    if not _METHOD_RE.fullmatch(method):
        raise click.BadParameter(f"{method!r:.40} is not an HTTP method", param_hint="-X")
    header_map = dict(_header(h) for h in headers)
    body = _body(data)
    price = None if max_price is None else parse_amount(max_price)
    client = Client(*wallet_and_source(load_settings(), node))
    try:
        with client:
            paid = client.request(method, url, data=body, headers=header_map, max_price=price)
    except requests.RequestException as exc:
        raise FontanaError(f"{url}: {exc}", code="http_error") from None
    response = paid.response
    receipt = paid.receipt
    if as_json:
        out: dict[str, Any] = {"status": response.status_code, "url": url}
        try:
            out["body"] = response.content.decode("utf-8")
        except UnicodeDecodeError:
            out["body_hex"] = response.content.hex()
        out["paid"] = str(paid.paid)
        out["receipt"] = None if receipt is None else receipt.to_json()
        emit(out, True)
    else:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
        if receipt is not None:
            r = receipt.receipt
            click.echo(
                printable(
                    f"paid {format_amount(r.amount)} to {encode_address(r.payee)} "
                    f"for {r.method} {r.resource}; txid {r.txid.hex()}, "
                    f"expected in block {r.expected_height} (receipt verified)"
                ),
                err=True,
            )
        elif paid.payment is not None:
            click.echo(f"HTTP {response.status_code}: not charged", err=True)
    if response.status_code >= 400:
        sys.exit(1)


def _l1_address(text: str) -> bytes:
    match = _L1_ADDRESS_RE.fullmatch(text)
    if match is None:
        raise EncodingError(f"L1_ADDRESS {text!r:.80}: expected 0x and 40 hex digits (20 bytes)")
    return bytes.fromhex(match["hex"])


@click.command("withdraw")
@click.argument("amount")
@click.argument("l1_address")
@click.option("--fee", default=None, help="Fee (default: the chain's minimum).")
@click.option("--node", default=None, help="Send it through this node's API, not the local ledger.")
@click.option(
    "--token",
    default=None,
    metavar="L1_ADDRESS",
    help="Be paid in the vault's ERC-20 at this address (default: the L1's native coin).",
)
@json_option
def withdraw_command(
    amount: str,
    l1_address: str,
    fee: str | None,
    node: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Burn AMOUNT from your wallet for L1_ADDRESS (0x...); the bridge releases it on L1."""
    from fontana.clock import now_ms
    from fontana.config import load_settings
    from fontana.ledger.transfers import select_utxos
    from fontana.sdk.transactions import build_withdrawal

    settings = load_settings()
    value = parse_amount(amount)
    recipient = _l1_address(l1_address)
    token_address = bytes(20) if token is None else _l1_address(token)
    wallet, source = wallet_and_source(settings, node)
    fee_value = source.min_fee if fee is None else parse_amount(fee, allow_zero=True)
    inputs = select_utxos(source.utxos(wallet.public_key), value + fee_value)
    tx = build_withdrawal(
        recipient,
        value,
        inputs,
        fee_value,
        now_ms() + WITHDRAW_EXPIRY_S * 1000,
        source.chain_id,
        wallet.signing_key,
        source.genesis_hash,
        token_address,
    )
    source.submit(tx)
    data = {
        "txid": tx.txid.hex(),
        "amount": str(value),
        "fee": str(fee_value),
        "l1_recipient": "0x" + recipient.hex(),
        "token": "0x" + token_address.hex(),
        "status": "pending",
    }
    emit(
        data,
        as_json,
        lambda d: f"burned {format_amount(value)} for {d['l1_recipient']} on L1\ntxid {d['txid']}",
    )


@click.group("receipt")
def receipt_group() -> None:
    """Receipts of paid calls."""


def _genesis(settings: Settings, path: Path | None) -> Genesis:
    if path is not None:
        from fontana.genesis import load_genesis_file

        return load_genesis_file(path)
    from fontana.ledger import open_ledger

    return open_ledger(settings).genesis


@receipt_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--da", "check_da", is_flag=True, help="Also check the block on the DA layer.")
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The chain's genesis.json (default: the local ledger's genesis).",
)
@json_option
def receipt_verify_command(
    file: Path, check_da: bool, genesis_file: Path | None, as_json: bool
) -> None:
    """Check a receipt (provisional or final JSON) offline, and with --da against DA."""
    from fontana.config import load_settings
    from fontana.models import FinalReceipt
    from fontana.receipts import verify_receipt_json

    settings = load_settings()
    data = strict_json.loads(_read_file(file, "receipt"), str(file))
    genesis = _genesis(settings, genesis_file)
    value = verify_receipt_json(data, genesis)
    final = value if isinstance(value, FinalReceipt) else None
    if check_da:
        if final is None:
            raise FontanaError(
                f"{file}: a provisional receipt has nothing on DA yet; fetch its final receipt",
                code="not_final",
            )
        _check_da(settings, final, genesis)
    signed = final.receipt if final is not None else value
    r = signed.receipt  # type: ignore[union-attr]
    out = {
        "kind": "final" if final is not None else "provisional",
        "txid": r.txid.hex(),
        "payer": encode_address(r.payer),
        "payee": encode_address(r.payee),
        "amount": str(r.amount),
        "method": r.method,
        "resource": r.resource,
        "block": None if final is None else final.header.header.height,
        "da_height": None if final is None else final.da_height,
        "checked_on_da": check_da,
    }
    emit(
        out,
        as_json,
        lambda d: printable(
            f"{d['kind']} receipt verified: {format_amount(r.amount)} from {d['payer']} "
            f"to {d['payee']} for {d['method']} {d['resource']}\ntxid {d['txid']}"
            + (f", in block {d['block']}" if final is not None else "")
            + (f", on DA at height {d['da_height']}" if check_da else "")
        ),
    )


def _check_da(settings: Settings, final: Any, genesis: Genesis) -> None:
    from fontana.da import open_da
    from fontana.errors import ReceiptError
    from fontana.interfaces import DAReference
    from fontana.receipts import verify_final_receipt_blob

    layer = open_da(settings, genesis.da_namespace)
    try:
        blob = layer.get(DAReference(final.da_height, final.da_commitment, final.da_namespace))
    finally:
        layer.close()
    if blob is None:
        raise ReceiptError(
            f"final_receipt: the DA layer has no blob at height {final.da_height} "
            f"with commitment {final.da_commitment.hex()}",
            check="da_missing",
        )
    verify_final_receipt_blob(final, blob, genesis)


PAYMENT_COMMANDS = (call_command, withdraw_command, receipt_group)
