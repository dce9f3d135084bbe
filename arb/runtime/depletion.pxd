# Cython declarations for depletion.py (pure-Python mode, as arb/marketdata/book_side.pxd): the inventory
# watch becomes an extension type with C fields, its shortcut and the float screen C calls. It looks once a
# second of the run's clock; with the balances standing still (a replay's usual answer) the look is those
# attributes and calls, ~21,000 instructions a look as Python objects. Keep in step with depletion.py: a
# renamed attribute or method fails the build, not silently at run time.

cimport cython

cdef class InventoryWatch:
    cdef public dict size_keys
    cdef public tuple venues
    cdef public long long window_ms
    cdef public long long hold_ms
    cdef public dict depleted
    cdef dict _turning
    cdef dict _readings
    cdef object _seen
    cdef list _priced_lines
    cdef dict _directions

    cdef _look_at(self, balances, asks)
    # a dict (``update`` makes any other mapping one): each priced direction's ask is a C lookup, not a ``get`` call
    cdef bint _priced_as_said(self, dict asks) except -1

cdef double _SCREEN

@cython.locals(price=cython.double)
cdef bint _short_at(balance, size, double line, ask) except -1
