"""Every ccxt exchange arb opens shares the process's one verifying TLS context (``arb/venues/tls.py``):
the context ccxt would build for it, built once."""

from __future__ import annotations

import ssl

import ccxt.async_support

from arb.venues.gate.exchange import GateExchange
from arb.venues.tls import share_tls


async def test_exchanges_share_the_context_ccxt_would_build() -> None:
    gate_a, gate_b = GateExchange({}), GateExchange({"apiKey": "k", "secret": "s"})
    binance = ccxt.async_support.binance({})
    share_tls(binance)
    try:
        assert gate_a.ssl_context is gate_b.ssl_context is binance.ssl_context
        context = gate_a.ssl_context
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        own = ssl.create_default_context(cafile=gate_a.cafile)  # what ccxt's open() builds
        assert context.cert_store_stats() == own.cert_store_stats() and context.cert_store_stats()["x509_ca"] > 0
        assert context.protocol == own.protocol and context.options == own.options
        gate_a.open()  # ccxt keeps a context it is given (and hands it to its session's connector)
        assert gate_a.ssl_context is context
    finally:
        for exchange in (gate_a, gate_b, binance):
            await exchange.close()


async def test_what_ccxt_would_build_otherwise_is_left_to_it() -> None:
    unverified = ccxt.async_support.binance({"verify": False})
    with_os = ccxt.async_support.binance({"options": {"include_OS_certificates": True}})
    for exchange in (unverified, with_os):
        share_tls(exchange)
        assert exchange.ssl_context is None  # ccxt builds it at open(): off, or with the OS's CAs added
    unverified.open()
    assert unverified.ssl_context is False
    await unverified.close()
    await with_os.close()
