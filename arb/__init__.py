"""arb: a cross-exchange crypto arbitrage engine.

Data flows one way: book update -> detection -> risk -> executor -> venue; acks and fills flow back
into the executor and the store. See docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
