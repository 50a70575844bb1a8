"""Pay for calls to examples/flask_provider from one wallet, within a budget (see README.md).

``GET /weather?city=NAME`` for every CITY, a few at once from threads sharing
one client (so one wallet, one UTXO pool and one budget), then ``POST /summary``
with ``--summary TEXT``. Each answer is printed with what it cost and its
receipt, which the client has already verified (signed by the provider, for
this payment, call and body). The wallet and the ledger it pays through come
from Fontana's usual settings: ``FONTANA_HOME``, ``FONTANA_WALLET_KEY_NAME``,
``FONTANA_STORAGE_URL``, ``fontana.toml``.

Exit status: 0 when every call was served; 1 when one was not (refused before
paying, or its view failed and it cost nothing); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from fontana.address import encode_address
from fontana.amounts import parse_amount
from fontana.config import load_settings
from fontana.errors import FontanaError, InsufficientFundsError
from fontana.ledger import open_ledger
from fontana.models import SignedReceipt
from fontana.sdk import Budget, Client, PaidResponse
from fontana.sdk.errors import BudgetExceededError, PaymentRejectedError
from fontana.wallet import load_key

#: An answer is the provider's text: shown up to this long, control characters escaped.
MAX_SHOWN = 500


@dataclass(frozen=True)
class Result:
    """One call as the consumer saw it: served or not, what to print, what it cost."""

    served: bool
    lines: list[str]
    receipt: SignedReceipt | None = None
    fee: int = 0


def shown(text: str) -> str:
    """A provider's text made safe for a terminal: one line, no escape sequences."""
    text = text.strip()
    cut = text[:MAX_SHOWN] + ("..." if len(text) > MAX_SHOWN else "")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in cut)


def outcome(label: str, call: Callable[[], PaidResponse[requests.Response]]) -> Result:
    """Make one call; every way it can end becomes a message, none a traceback."""
    try:
        paid = call()
    except BudgetExceededError as exc:
        return Result(False, [f"{label}: refused by the budget, nothing was paid: {exc.message}"])
    except InsufficientFundsError as exc:
        return Result(False, [f"{label}: the wallet cannot pay for it: {exc.message}"])
    except PaymentRejectedError as exc:
        return Result(
            False, [f"{label}: the provider refused the payment ({exc.code}): {shown(exc.message)}"]
        )
    except FontanaError as exc:
        return Result(False, [f"{label}: error[{exc.code}]: {shown(exc.message)}"])
    except requests.RequestException as exc:
        return Result(False, [f"{label}: no answer from the provider: {shown(str(exc))}"])
    response = paid.response
    lines = [f"{label} -> HTTP {response.status_code} {shown(response.text)}"]
    if paid.receipt is not None and paid.payment is not None:
        r = paid.receipt.receipt
        lines += [
            f"  paid {r.amount} utia (+{paid.payment.fee} fee) to {encode_address(r.payee)}",
            f"  receipt (verified): txid {r.txid.hex()}, {r.method} {shown(r.resource)}, "
            f"expected in block {r.expected_height}",
        ]
        return Result(True, lines, paid.receipt, paid.payment.fee)
    if paid.payment is not None:
        reason = paid.settlement.error_reason if paid.settlement else None
        lines.append(f"  not charged ({reason or 'the call failed'}): the wallet keeps its money")
    elif response.status_code < 400:
        lines.append("  free: the provider asked for no payment")
    return Result(response.status_code < 400, lines)


def amount(text: str) -> int:
    """An amount argument: 1500, 1500utia or 0.0015tia."""
    try:
        return parse_amount(text)
    except FontanaError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the provider, e.g. http://127.0.0.1:8000")
    parser.add_argument("cities", nargs="+", metavar="CITY", help="a city to ask the weather of")
    parser.add_argument("--summary", metavar="TEXT", help="also POST /summary with this text")
    parser.add_argument(
        "--per-call", type=amount, default=2_000, help="most one call may take, fee included"
    )
    parser.add_argument("--per-session", type=amount, default=None, help="most this run may take")
    parser.add_argument("--threads", type=int, default=4, help="weather calls made at once")
    parser.add_argument("--receipts", type=Path, help="save each receipt here as <txid>.json")
    args = parser.parse_args(argv)
    if not 1 <= args.threads <= 64:
        parser.error("--threads must be 1..64")
    return args


def make_calls(
    client: Client, base: str, cities: list[str], summary: str | None, threads: int
) -> list[Result]:
    """The weather of every city, ``threads`` at a time, then the summary; printed in order."""

    def weather(city: str) -> Result:
        return outcome(
            f"GET /weather?city={shown(city)}",
            lambda: client.get(f"{base}/weather", params={"city": city}),
        )

    results = []
    with ThreadPoolExecutor(threads) as pool:
        for result in pool.map(weather, cities):
            print("\n".join(result.lines), flush=True)
            results.append(result)
    if summary is not None:
        text = summary.encode()
        result = outcome("POST /summary", lambda: client.post(f"{base}/summary", data=text))
        print("\n".join(result.lines), flush=True)
        results.append(result)
    return results


def save_receipts(folder: Path, receipts: list[SignedReceipt]) -> None:
    """Each receipt as ``<txid>.json``, the file ``fontana receipt verify`` checks offline."""
    folder.mkdir(parents=True, exist_ok=True)
    for receipt in receipts:
        path = folder / f"{receipt.receipt.txid.hex()}.json"
        path.write_text(json.dumps(receipt.to_json(), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = args.url.rstrip("/")
    try:
        settings = load_settings()
        wallet = load_key(settings.home, settings.wallet.key_name, settings.wallet.passphrase)
        ledger = open_ledger(settings)
    except FontanaError as exc:
        print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
        return exc.exit_code
    budget = Budget(per_call=args.per_call, per_session=args.per_session)
    print(f"paying from {wallet.name} ({wallet.address}), at most {args.per_call} utia a call")
    try:
        # One client for the whole process: every thread draws from its pool and budget.
        with Client(wallet, ledger, budget=budget) as client:
            results = make_calls(client, base, args.cities, args.summary, args.threads)
    finally:
        ledger.storage.close()
    receipts = [r.receipt for r in results if r.receipt is not None]
    if args.receipts is not None and receipts:
        try:
            save_receipts(args.receipts, receipts)
        except OSError as exc:
            print(f"error[file_error]: {args.receipts}: {exc.strerror}", file=sys.stderr)
            return 1
    served = sum(r.served for r in results)
    prices = sum(r.receipt.amount for r in receipts)
    fees = sum(r.fee for r in results)
    print(f"served {served} of {len(results)} calls for {prices} utia (+{fees} utia in fees)")
    return 0 if served == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
