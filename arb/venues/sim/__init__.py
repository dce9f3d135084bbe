"""The simulated venue's core, shared by every simulated venue: its book (``book.py``), what it keeps
(``orders.py``) and the one matcher (``matching.py``). The paper venue (``arb/venues/paper/``) calls the
matcher in-process; the Gate sandbox (``arb/venues/gate/sandbox/``) serves it in Gate's protocol."""
