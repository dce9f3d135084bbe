# Cython declarations for book_side.py (pure-Python mode: the .py is the code, compiled as it is).
# Built only when Cython and a C compiler are there (setup.py); without them book_side.py runs unchanged.
# These only add C types: BookSide becomes an extension type (its __slots__ as typed fields), its window a
# C int64 buffer, its levels a C hash table (tick_map.pxd), and a price is read from its ASCII buffer.
# Keep in step with book_side.py: a renamed slot or method fails the build, not silently at run time.
cimport cython
from arb.marketdata.tick_map cimport TickMap, exact_size, pow10

cdef extern from "Python.h":
    # CPython's own accessors for a str's buffer: an ASCII str stores one byte per character.
    bint PyUnicode_IS_ASCII(str)
    const unsigned char *PyUnicode_1BYTE_DATA(str)

ctypedef const unsigned char *ascii_chars

cdef bint _compiled
cdef long long _SHUT, _ONE

cdef class BookSide:
    cdef public bint ask
    cdef public Py_ssize_t window_size
    cdef public bint fixed
    cdef public Py_ssize_t decimals
    cdef public TickMap table
    cdef long long[::1] ticks
    cdef public Py_ssize_t wlen
    cdef public bint complete
    cdef public long long tedge
    cdef public dict levels
    cdef public list window
    cdef public object edge

    cpdef apply(self, changes)

    @cython.locals(table=TickMap, decimals=Py_ssize_t, sign=cython.longlong, complete=bint,
                   edge=cython.longlong, limit=Py_ssize_t, at=Py_ssize_t, tick=cython.longlong,
                   key=cython.longlong, exact=cython.longlong, price=str, size=str, n=Py_ssize_t,
                   flat=bint)
    cdef Py_ssize_t _apply_ticks(self, list batch) except -2

    @cython.locals(n=Py_ssize_t, at=Py_ssize_t, j=Py_ssize_t)
    cdef _insert(self, long long key)

    @cython.locals(n=Py_ssize_t, at=Py_ssize_t, j=Py_ssize_t, above=cython.longlong, below=cython.longlong)
    cdef _remove(self, long long key)

    cpdef Py_ssize_t held_top(self, Py_ssize_t n) except -1

    @cython.locals(n=Py_ssize_t, size=Py_ssize_t, drop=Py_ssize_t, i=Py_ssize_t)
    cdef _resize(self)

    @cython.locals(n=Py_ssize_t, size=Py_ssize_t)
    cdef _rebuild(self)

    @cython.locals(i=Py_ssize_t)
    cdef _grow(self, Py_ssize_t n)

    @cython.locals(table=TickMap, scale=cython.double, n=Py_ssize_t, top=Py_ssize_t, i=Py_ssize_t,
                   tick=cython.longlong, keys=list)
    cpdef Py_ssize_t fill_top(self, double[::1] flat, Py_ssize_t at, Py_ssize_t sizes_at,
                              Py_ssize_t depth) except -1


cdef inline Py_ssize_t _places(str text) except -2

@cython.locals(price=str)
cdef bint _one_format(list batch, Py_ssize_t decimals) except -1

@cython.locals(decimals=Py_ssize_t, tick=cython.longlong)
cdef inline double _float_of(str text) except? -1.0

# inline: once a level each, in the apply loop (as calls, ~0.08 us more a Binance depth frame)
@cython.locals(n=Py_ssize_t, point=Py_ssize_t, data=ascii_chars, whole=cython.longlong, fraction=cython.longlong,
               scale=cython.longlong, i=Py_ssize_t, digit=cython.uint)
cdef inline long long _tick(str price, Py_ssize_t decimals) except? -2

@cython.locals(data=ascii_chars, i=Py_ssize_t)
cdef inline bint _nonzero(str size) except -1
