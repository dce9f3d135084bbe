"""Gate's USDT-settled perpetual contracts in the sandbox: what one contract is, and the JSON shapes of its
orders, trades, positions, futures account and funding entries, as ``/futures/usdt/...`` answers them.

A contract trades in **contracts** of ``quanto_multiplier`` base each (ETH_USDT: 0.01 ETH), signed on the
wire (``size`` > 0 buys, < 0 sells). The matcher (``arb/venues/sim/matching.py``) trades it as a linear
market in base units, so one step of its amount is one contract; these shapes convert at the boundary and
nowhere else. A contract's market lives in the matcher under :func:`market_id` (``usdt:ETH_USDT``): Gate
lists spot ``ETH_USDT`` and the contract ``ETH_USDT`` side by side, and so may one sandbox. Each key's
futures wallet is a matcher account of its own (:func:`futures_account`), apart from its spot wallet, as
on Gate, where moving money between the two is a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arb.domain.market import EXACT
from arb.margin import PositionState, account_margin
from arb.venues.gate.sandbox.orders import fmt
from arb.venues.sim.orders import SimMarket, SimOrder, SimTrade
from arb.venues.sim.queue import QueueModel

ZERO = Decimal(0)
SETTLE = "usdt"
FUNDING_INTERVAL_S = 8 * 3600  # Gate's usual schedule: 00:00, 08:00, 16:00 UTC


def market_id(contract: str) -> str:
    """The matcher's id of a contract's market."""
    return f"{SETTLE}:{contract}"


def contract_of(market: str) -> str | None:
    """The contract a matcher market is, or None for a spot pair."""
    prefix = SETTLE + ":"
    return market[len(prefix):] if market.startswith(prefix) else None


def futures_account(key: str) -> str:
    """The matcher account holding ``key``'s futures wallet and positions."""
    return f"{key}/futures"


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One listed USDT perpetual, as ``/futures/usdt/contracts`` reports it."""

    name: str  # "ETH_USDT"
    quanto_multiplier: Decimal = Decimal("0.01")  # base per contract
    price_decimals: int = 2  # order_price_round = 10^-price_decimals
    order_size_min: int = 1  # contracts
    taker_fee: Decimal = Decimal("0.0005")
    maker_fee: Decimal = Decimal("0.0002")
    leverage: Decimal = Decimal(1)
    maintenance_rate: Decimal = Decimal("0.005")
    queue: QueueModel = QueueModel()  # the simulation's assumption (arb/venues/sim/queue.py): Gate lists none

    @property
    def base(self) -> str:
        return self.name.split("_")[0]

    @property
    def quote(self) -> str:
        return self.name.split("_")[1]

    @property
    def price_step(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_decimals)

    @property
    def market(self) -> SimMarket:
        """The matcher's linear market: one amount step per contract, every fee in the settle currency."""
        return SimMarket(market_id(self.name), self.base, self.quote, self.price_step, self.quanto_multiplier,
                         self.order_size_min * self.quanto_multiplier, ZERO, self.taker_fee, self.maker_fee,
                         "quote", linear=True, leverage=self.leverage, queue=self.queue)

    def contracts(self, base: Decimal) -> Decimal:
        return base / self.quanto_multiplier

    def to_json(self, mark: Decimal | None, index: Decimal | None, funding_rate: Decimal,
                funding_next_apply_s: int) -> dict[str, Any]:
        mark_text = fmt(mark) if mark is not None else ""
        return {
            "name": self.name,
            "type": "direct",
            "quanto_multiplier": fmt(self.quanto_multiplier),
            "leverage_min": "1",
            "leverage_max": "100",
            "maintenance_rate": fmt(self.maintenance_rate),
            "mark_type": "index",
            "mark_price": mark_text,
            "index_price": fmt(index) if index is not None else mark_text,
            "last_price": mark_text,
            "maker_fee_rate": fmt(self.maker_fee),
            "taker_fee_rate": fmt(self.taker_fee),
            "order_price_round": fmt(self.price_step),
            "mark_price_round": fmt(self.price_step),
            "funding_rate": fmt(funding_rate),
            "funding_interval": FUNDING_INTERVAL_S,
            "funding_next_apply": funding_next_apply_s,
            "order_price_deviate": "0.5",
            "order_size_min": self.order_size_min,
            "order_size_max": 1000000,
            "enable_decimal": False,
            "in_delisting": False,
            "status": "trading",
            "create_time": 0,
        }


def ticker_json(spec: ContractSpec, mark: Decimal, index: Decimal | None, funding_rate: Decimal) -> dict[str, Any]:
    """One ``futures.tickers`` ticker, as Gate pushes it: the mark, index and the current period's funding rate
    (settled at the contract's ``funding_next_apply``, which the ticker does not state). 24-hour figures are
    not kept by the sandbox: ``"0"``."""
    mark_text = fmt(mark)
    return {
        "contract": spec.name,
        "last": mark_text,
        "change_percentage": "0",
        "total_size": "0",
        "volume_24h": "0",
        "volume_24h_base": "0",
        "volume_24h_quote": "0",
        "volume_24h_settle": "0",
        "mark_price": mark_text,
        "funding_rate": fmt(funding_rate),
        "funding_rate_indicative": fmt(funding_rate),
        "index_price": fmt(index) if index is not None else mark_text,
        "low_24h": mark_text,
        "high_24h": mark_text,
    }


def _signed(side: str, amount: Decimal) -> Decimal:
    return amount if side == "buy" else -amount


def futures_order_json(order: SimOrder, spec: ContractSpec, *, reduce_only: bool = False) -> dict[str, Any]:
    """``/futures/usdt/orders`` as Gate answers it: ``size`` and ``left`` signed, in contracts."""
    average = order.filled_total / order.filled_amount if order.filled_amount else ZERO
    return {
        "id": order.id,
        "user": 1,
        "contract": spec.name,
        "create_time": order.create_ms / 1000,
        "finish_time": order.update_ms / 1000 if order.status != "open" else None,
        "update_time": order.update_ms / 1000,
        "finish_as": order.finish_as if order.status != "open" else "",
        "status": "open" if order.status == "open" else "finished",
        "size": fmt(_signed(order.side, spec.contracts(order.amount))),
        "left": fmt(_signed(order.side, spec.contracts(order.left))),
        "iceberg": "0",
        "price": fmt(order.price),
        "fill_price": fmt(average.quantize(spec.price_step.scaleb(-8)).normalize()) if average else "0",
        "tif": order.time_in_force,
        "text": order.client_id,
        "is_reduce_only": reduce_only,
        "is_close": False,
        "is_liq": False,
        "tkfr": fmt(spec.taker_fee),
        "mkfr": fmt(spec.maker_fee),
        "refu": 0,
        "stp_act": "-",
        "amend_text": "-",
    }


def futures_trade_json(trade: SimTrade, spec: ContractSpec) -> dict[str, Any]:
    """``/futures/usdt/my_trades``: ``size`` signed in contracts, ``fee`` in the settle currency."""
    return {
        "id": trade.id,
        "create_time": trade.create_ms / 1000,
        "contract": spec.name,
        "order_id": str(trade.order_id),
        "size": fmt(_signed(trade.side, spec.contracts(trade.amount))),
        "price": fmt(trade.price),
        "role": trade.role,
        "text": trade.client_id,
        "fee": fmt(trade.fee),
        "point_fee": "0",
    }


def position_json(spec: ContractSpec, position: PositionState, mark: Decimal | None,
                  wallet: Decimal) -> dict[str, Any]:
    """``/futures/usdt/positions/{contract}`` (single mode, cross margin: ``leverage`` 0 on Gate; the
    sandbox's leverage is the contract's). ``liq_price`` is the price the position is liquidated at alone
    in the account (``arb.margin.account_margin``), 0 when flat or never."""
    size = spec.contracts(position.amount)
    unrealised = position.unrealized(mark).quantize(Decimal("1e-12")) if mark is not None and size else ZERO
    liq = ZERO
    if size and mark is not None:
        line = account_margin(wallet, [(spec.name, position, mark)], spec.maintenance_rate).positions[0]
        liq = line.liquidation or ZERO
    value = EXACT.multiply(abs(position.amount), mark) if mark is not None else ZERO
    return {
        "user": 1,
        "contract": spec.name,
        "size": fmt(size),
        "leverage": fmt(spec.leverage),
        "risk_limit": "1000000",
        "leverage_max": "100",
        "maintenance_rate": fmt(spec.maintenance_rate),
        "value": fmt(value),
        "margin": fmt(position.margin(spec.leverage)),
        "entry_price": fmt(position.entry.quantize(Decimal("1e-12")).normalize()) if size else "0",
        "liq_price": fmt(liq),
        "mark_price": fmt(mark) if mark is not None else "0",
        "unrealised_pnl": fmt(unrealised),
        "realised_pnl": "0",  # not kept: the account book's entries and the wallet say what was realized
        "history_pnl": "0",
        "last_close_pnl": "0",
        "mode": "single",
        "cross_leverage_limit": "0",
        "update_time": 0,
        "open_time": 0,
    }


def account_json(available: Decimal, locked: Decimal, unrealised: Decimal) -> dict[str, Any]:
    """``/futures/usdt/accounts``: ``total`` is the wallet (what fills, fees, realized PnL and funding moved);
    ``available`` what new orders may hold; unrealized PnL is reported apart, as on Gate."""
    return {
        "total": fmt(EXACT.add(available, locked)),
        "unrealised_pnl": fmt(unrealised),
        "position_margin": fmt(locked),
        "order_margin": "0",
        "available": fmt(available),
        "point": "0",
        "currency": "USDT",
        "in_dual_mode": False,
        "enable_credit": False,
        "position_initial_margin": fmt(locked),
        "maintenance_margin": "0",
        "bonus": "0",
        "history": {},
    }
