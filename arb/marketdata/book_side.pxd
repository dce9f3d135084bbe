# Cython declarations for book_side.py (pure-Python mode: the .py is the code, compiled as it is).
# Built only when Cython and a C compiler are there (setup.py); without them book_side.py runs unchanged.
# These only add C types: BookSide becomes an extension type (its __slots__ as typed fields) and the two
# hot loops get typed locals, so dict/str/list operations compile to direct C-API calls.
# Keep in step with book_side.py: a renamed slot or method fails the build, not silently at run time.
cimport cython

cdef class BookSide:
    cdef public bint ask
    cdef public Py_ssize_t window_size
    cdef public dict levels
    cdef public list window
    cdef public object edge
    cdef public bint fixed
    cdef public Py_ssize_t plen
    cdef long long[::1] ticks
    cdef public Py_ssize_t dpos
    cdef public bint lead0
    cdef public str zero
    cdef public Py_ssize_t zlen
    cdef public Py_ssize_t zpoint
    cdef public dict odd
    cdef public list odd_better
    cdef public list odd_worse

    cpdef apply(self, changes)

    @cython.locals(window=list, complete=bint, keys=list)
    cpdef list top_keys(self, Py_ssize_t n)

    cdef Py_ssize_t held_top(self, Py_ssize_t n) except -1

    @cython.locals(levels=dict, window=list, edge=str, plen=Py_ssize_t, dpos=Py_ssize_t, lead0=bint,
                   zero=str, zlen=Py_ssize_t, zpoint=Py_ssize_t, price=str, size=str, limit=Py_ssize_t,
                   at=Py_ssize_t, held=Py_ssize_t)
    cdef _apply_fixed_bids(self, list batch)

    @cython.locals(levels=dict, window=list, edge=str, plen=Py_ssize_t, dpos=Py_ssize_t, lead0=bint,
                   zero=str, zlen=Py_ssize_t, zpoint=Py_ssize_t, price=str, size=str, limit=Py_ssize_t,
                   at=Py_ssize_t, held=Py_ssize_t)
    cdef _apply_fixed_asks(self, list batch)

    @cython.locals(n=Py_ssize_t, at=Py_ssize_t, j=Py_ssize_t, tick=cython.longlong)
    cdef _insert(self, list window, str price)

    @cython.locals(n=Py_ssize_t, at=Py_ssize_t, j=Py_ssize_t)
    cdef _remove(self, list window, str price)

    @cython.locals(base=Py_ssize_t, length=Py_ssize_t, half=Py_ssize_t)
    cdef Py_ssize_t _place(self, long long tick, Py_ssize_t n)

    @cython.locals(window=list, ticks=cython.longlong[::1], i=Py_ssize_t, n=Py_ssize_t)
    cdef _retick(self)


@cython.locals(tick=cython.longlong, char=Py_UCS4)
cdef long long _tick(str price) except? -1
