# Cython declarations for book.py (pure-Python mode, see book_side.pxd): OrderBook becomes an extension
# type whose sides are typed, so apply_delta and the top view call BookSide's methods in C.
cimport cython
from arb.marketdata.book_side cimport BookSide

cdef class OrderBook:
    cdef public object _arrays
    cdef public bint _dirty
    cdef double[::1] _flat
    cdef public bint _gap
    cdef public dict _memo
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

    @cython.locals(keys=list, levels=dict, memo=dict, flat=double[::1], sizes_at=Py_ssize_t, n=Py_ssize_t, i=Py_ssize_t,
                   price=str, size=str)
    cdef Py_ssize_t _fill(self, BookSide side, Py_ssize_t at) except -1

    @cython.locals(n=Py_ssize_t, window=list, ticks=cython.longlong[::1], levels=dict, flat=double[::1],
                   top=Py_ssize_t, sizes_at=Py_ssize_t, scale=cython.double, i=Py_ssize_t,
                   _decimal=Py_ssize_t)
    cdef Py_ssize_t _fill_window(self, BookSide side, Py_ssize_t at) except -1

    @cython.locals(memo=dict)
    cdef double _parse(self, str text) except? -1.0


@cython.locals(mantissa=cython.longlong, significant=Py_ssize_t, digits=Py_ssize_t, decimals=Py_ssize_t,
               scale=cython.double, char=Py_UCS4)
cpdef double decimal_float(str text) except? -1.0
