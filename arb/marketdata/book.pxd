# Cython declarations for book.py (pure-Python mode, see book_side.pxd): OrderBook becomes an extension
# type whose sides are typed, so apply_delta and the top view call BookSide's methods in C.
cimport cython
from arb.marketdata.book_side cimport BookSide

cdef class OrderBook:
    cdef public object _arrays
    cdef public bint _dirty
    cdef dict _exact
    cdef double[::1] _flat
    cdef public bint _gap
    cdef public bint _synced
    cdef public object _views
    cdef public BookSide asks
    cdef public BookSide bids
    cdef public Py_ssize_t depth
    cdef public object exchange_ts
    cdef public object max_age_ms
    cdef public object received_ts
    cdef public object seq
    cdef public object symbol
    cdef public Py_ssize_t updates
    cdef public object venue

    @cython.locals(depth=Py_ssize_t, nb=Py_ssize_t, na=Py_ssize_t, bids=BookSide, asks=BookSide)
    cdef _refresh(self)

    cdef Py_ssize_t _fill(self, BookSide side, Py_ssize_t at) except -1
