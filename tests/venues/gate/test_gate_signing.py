"""The pure signers against Gate's official documentation vectors and ccxt's WS formula."""

from __future__ import annotations

import hashlib
import hmac

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.venues.gate.signing import (
    EMPTY_BODY_HASH,
    SigningKey,
    body_hash,
    sign_payload,
    sign_request,
    sign_ws_channel,
)
from arb.venues.gate.ws_auth import channel_auth, private_frame

DOC_TS = "1541993715"


def test_official_vector_get_without_body() -> None:
    headers = sign_request(
        "GET", "/api/v4/futures/orders", "contract=BTC_USD&status=finished&limit=50", None, DOC_TS, "key", "secret"
    )
    assert headers["SIGN"] == (
        "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6"
        "fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
    )
    assert headers == {"KEY": "key", "Timestamp": DOC_TS, "SIGN": headers["SIGN"], "Content-Type": "application/json"}


def test_official_vector_post_with_body() -> None:
    body = '{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}'
    headers = sign_request("POST", "/api/v4/futures/orders", "", body, DOC_TS, "key", "secret")
    assert headers["SIGN"] == (
        "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541f"
        "c4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
    )
    # bytes and str bodies are the same request
    assert sign_request("POST", "/api/v4/futures/orders", "", body.encode(), DOC_TS, "key", "secret") == headers


def test_empty_body_is_the_hash_of_empty_string_not_empty_string() -> None:
    assert body_hash(None) == body_hash(b"") == body_hash("") == EMPTY_BODY_HASH
    assert EMPTY_BODY_HASH.startswith("cf83e1357eefb8bd")
    assert body_hash("é") == hashlib.sha512("é".encode()).hexdigest()


@pytest.mark.parametrize("path", ["/spot/orders", "/api/v3/spot/orders", "api/v4/spot/orders"])
def test_path_without_api_v4_prefix_is_refused(path: str) -> None:
    # The widely copied "GateClient" snippet signs "/spot/orders": every private call then fails.
    with pytest.raises(ValueError, match="/api/v4"):
        sign_request("GET", path, "", None, DOC_TS, "key", "secret")


def test_timestamp_header_is_byte_identical_to_the_signed_string() -> None:
    for ts in ("1700000000", "1700000000.123"):
        headers = sign_request("GET", "/api/v4/spot/accounts", "", None, ts, "k", "s")
        assert headers["Timestamp"] == ts
    assert (
        sign_request("GET", "/api/v4/spot/accounts", "", None, "1700000000", "k", "s")["SIGN"]
        != sign_request("GET", "/api/v4/spot/accounts", "", None, "1700000000.0", "k", "s")["SIGN"]
    )


def test_ws_channel_sign_matches_ccxt_pro_formula() -> None:
    # ccxt.pro gate subscribe_private: hmac(secret, "channel=..&event=..&time=..", sha512, hex)
    expected = ccxt.Exchange.hmac(
        b"channel=spot.orders&event=subscribe&time=1700000000", b"secret", hashlib.sha512, "hex"
    )
    assert sign_ws_channel("spot.orders", "subscribe", 1700000000, "secret") == expected
    assert channel_auth("spot.orders", "subscribe", 1700000000, "key", "secret") == {
        "method": "api_key",
        "KEY": "key",
        "SIGN": expected,
    }


def test_private_frame_signs_its_own_time_field() -> None:
    frame = private_frame("spot.usertrades", ["BTC_USDT"], 1700000123, "key", "secret", request_id=7)
    assert frame["time"] == 1700000123
    assert frame["id"] == 7 and frame["payload"] == ["BTC_USDT"] and frame["event"] == "subscribe"
    assert frame["auth"]["SIGN"] == sign_ws_channel("spot.usertrades", "subscribe", 1700000123, "secret")
    unsub = private_frame("spot.usertrades", None, 1700000123, "key", "secret", event="unsubscribe")
    assert "payload" not in unsub and unsub["auth"]["SIGN"] != frame["auth"]["SIGN"]


@settings(max_examples=200)
@given(secret=st.text(max_size=80), payloads=st.lists(st.text(max_size=300), min_size=1, max_size=4),
       body=st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=300)))
def test_a_kept_signing_key_signs_as_the_plain_definition(secret: str, payloads: list[str],
                                                          body: bytes | str | None) -> None:
    # A SigningKey (the HMAC set up once, copied per signature) and the body hash (a copy of an empty
    # SHA-512) against hmac/hashlib called afresh, over several signatures with one key: no state leaks
    # from one signature into the next.
    key = SigningKey(secret)
    for payload in payloads:
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()
        assert key.sign(payload) == sign_payload(payload, secret) == expected
    raw = body.encode() if isinstance(body, str) else body if body is not None else b""
    assert body_hash(body) == hashlib.sha512(raw).hexdigest()
    assert sign_request("POST", "/api/v4/spot/orders", "", body, DOC_TS, "k", key) == sign_request(
        "POST", "/api/v4/spot/orders", "", body, DOC_TS, "k", secret)
    assert secret not in repr(key) or secret in "SigningKey(<secret>)"
