"""Master keys: AES-GCM bound to its row, versioned, rotated while data stays readable."""

import json
import stat
from io import StringIO

import pytest
from sqlalchemy import select

from avnz.core.logging import configure_logging
from avnz.payments.models import PaymentMethod, pan_aad
from avnz.security.keyring import (
    KEY_FILE_NAME,
    DecryptionError,
    Keyring,
    associated_data,
    new_key,
    parse_master_keys,
)
from avnz.security.rotation import reencrypt_all
from avnz.tenancy.models import Role
from tests.conftest import make_settings

AAD = associated_data("t", "row_1", "com_1")


def file_keyring(tmp_path, **overrides):
    return Keyring.from_settings(make_settings(tmp_path, **overrides))


def test_round_trip_and_binding(tmp_path):
    keyring = file_keyring(tmp_path)
    token = keyring.encrypt(b"secret", aad=AAD)
    assert token.startswith("v1.") and b"secret" not in token.encode()
    assert keyring.decrypt(token, aad=AAD) == b"secret"
    assert keyring.encrypt(b"secret", aad=AAD) != token  # fresh nonce every time
    for other in (associated_data("t", "row_2", "com_1"), associated_data("t", "row_1", "com_2")):
        with pytest.raises(DecryptionError):
            keyring.decrypt(token, aad=other)
    for broken in ("garbage", "v9." + token[3:], token[:-4] + "AAAA"):
        with pytest.raises(DecryptionError):
            keyring.decrypt(broken, aad=AAD)


def test_key_file_is_private_and_stable(tmp_path):
    keyring = file_keyring(tmp_path)
    path = tmp_path / "keys" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = keyring.encrypt(b"x", aad=AAD)
    assert file_keyring(tmp_path).decrypt(token, aad=AAD) == b"x"
    assert keyring.fingerprint("4111", scope="org") == file_keyring(tmp_path).fingerprint(
        "4111", scope="org"
    )


def test_production_mode_warns_loudly_about_a_generated_key(tmp_path):
    stream = StringIO()
    configure_logging("INFO", stream=stream)
    try:
        file_keyring(tmp_path, environment="production")
    finally:
        configure_logging("WARNING")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["level"] == "error" and "AVNZ_MASTER_KEYS" in line["event"]


def test_environment_keys(tmp_path):
    old, new, fp = new_key(), new_key(), new_key()
    before = file_keyring(tmp_path, master_keys=f"1:{old}", fingerprint_key=fp)
    token = before.encrypt(b"pan", aad=AAD)
    after = file_keyring(tmp_path, master_keys=f"2:{new},1:{old}", fingerprint_key=fp)
    assert after.newest_version == 2 and after.decrypt(token, aad=AAD) == b"pan"
    assert after.encrypt(b"pan", aad=AAD).startswith("v2.")
    assert not (tmp_path / "keys" / KEY_FILE_NAME).exists()
    for bad in ("", "x:abc", f"1:{new[:10]}"):
        with pytest.raises(ValueError):
            parse_master_keys(bad, fp)
    with pytest.raises(ValueError):
        parse_master_keys(f"1:{new}", None)


async def test_rotation_reencrypts_everything_and_old_key_can_retire(
    client, world, runtime, session
):
    for number in ("4111111111111111", "5555555555554444", "378282246310005"):
        response = await client.post(
            "/api/v1/payment-methods",
            json={"card": {"number": number, "exp_month": 1, "exp_year": 2031}},
            headers=world.headers(Role.COMPANY_ADMIN),
        )
        assert response.status_code == 201
    key_file = runtime.keyring.key_file
    old_version = runtime.keyring.newest_version
    new_version = key_file.add_key()
    runtime.keyring.reload()

    report = await reencrypt_all(runtime.sessions, runtime.keyring, batch=2)
    assert report.rewritten["payment_methods.pan_ciphertext"] == 3
    assert (await reencrypt_all(runtime.sessions, runtime.keyring)).total == 0  # idempotent

    assert key_file.retire_all_but(new_version) == [old_version]
    runtime.keyring.reload()
    assert runtime.keyring.versions == [new_version]
    rows = (await session.scalars(select(PaymentMethod))).all()
    assert {Keyring.key_version(r.pan_ciphertext) for r in rows} == {new_version}
    numbers = {
        runtime.keyring.decrypt(
            r.pan_ciphertext, aad=pan_aad({"id": r.id, "company_id": r.company_id})
        )
        for r in rows
    }
    assert numbers == {b"4111111111111111", b"5555555555554444", b"378282246310005"}
