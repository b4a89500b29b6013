"""Card vault cost per card: AES-256-GCM encrypt and decrypt of a PAN, as the payment path runs it.

    .venv/bin/python bench/vault.py [--cards 20000]

`encrypt` is what `vault.store_card` spends on a new card (the keyed fingerprint plus the PAN
sealed under the newest master key, bound to its row), `decrypt` is `vault.reveal` (the PAN
opened again and handed over as a gateway `Card`). Both keyrings are measured: keys from
`AVNZ_MASTER_KEYS`, and the embedded default that keeps them in a key file and checks it for a
rotation once a second. Prints p50 / p99 / max in microseconds and operations per second.
A script, not a test.
"""

import argparse
import base64
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from avnz.config import Settings
from avnz.core.ids import new_id
from avnz.payments import vault
from avnz.payments.models import PaymentMethod, pan_aad
from avnz.security.keyring import Keyring
from support import percentiles, timed

CARDS = ("4111111111111111", "5555555555554444", "378282246310005", "6011111111111117")


def _method(index: int) -> PaymentMethod:
    return PaymentMethod(
        id=new_id("pm"),
        company_id="com_bench",
        exp_month=12,
        exp_year=2030,
        holder_name=f"Card Holder {index}",
    )


def _seal(keyring: Keyring, method: PaymentMethod, number: str) -> None:
    method.fingerprint = keyring.fingerprint(number, scope="org_bench")
    method.pan_ciphertext = keyring.encrypt(
        number.encode(), aad=pan_aad({"id": method.id, "company_id": method.company_id})
    )


def measure(label: str, keyring: Keyring, count: int) -> None:
    methods = [_method(index) for index in range(count)]
    numbers = [CARDS[index % len(CARDS)] for index in range(count)]
    encrypt = timed(lambda index: _seal(keyring, methods[index], numbers[index]), count)
    decrypt = timed(lambda index: vault.reveal(methods[index], keyring, cvv="999"), count)
    if any(vault.reveal(m, keyring).number != n for m, n in zip(methods, numbers, strict=True)):
        raise SystemExit("a card did not survive the round trip")
    print(f"{label}")
    for name, (samples, per_second) in (("encrypt", encrypt), ("decrypt", decrypt)):
        print(f"  {name:8} {percentiles(samples)}  {per_second:9,.0f} ops/s")


def _env_keyring() -> Keyring:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    fingerprint = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(master_keys=SecretStr(f"1:{key}"), fingerprint_key=SecretStr(fingerprint))
    return Keyring.from_settings(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        keyrings: dict[str, Callable[[], Keyring]] = {
            "keys from AVNZ_MASTER_KEYS": _env_keyring,
            "keys from the key file (embedded default)": lambda: Keyring.from_settings(
                Settings(data_dir=Path(directory))
            ),
        }
        for label, make in keyrings.items():
            measure(f"{label}, {args.cards} cards", make(), args.cards)


if __name__ == "__main__":
    main()
