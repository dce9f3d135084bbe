# Cython declarations for tick_map.py (pure-Python mode, see book_side.pxd): the compiled map keeps its ticks
# in a C int64 buffer and hashes them with C unsigned arithmetic (the ``-1`` of an empty slot as a C value),
# and the sizes' doubles in a C double buffer. Built only when Cython and a C compiler are there (setup.py);
# without them tick_map.py runs unchanged, as a dict.
cimport cython

cdef unsigned long long _GOLDEN
cdef long long _EMPTY, _NO_KEY
cdef double _UNREAD

@cython.final
cdef class TickMap:
    cdef public dict map
    cdef long long[::1] keys
    cdef list values
    cdef double[::1] floats
    cdef public Py_ssize_t mask
    cdef public Py_ssize_t used

    @cython.locals(slot=Py_ssize_t)
    @cython.locals(slot=Py_ssize_t)
    cpdef object get(self, long long tick)

    @cython.locals(slot=Py_ssize_t)
    cpdef bint put(self, long long tick, str size) except -1

    @cython.locals(mask=Py_ssize_t, hole=Py_ssize_t, at=Py_ssize_t, home=Py_ssize_t, moved=cython.longlong)
    cpdef bint remove(self, long long tick) except -1

    @cython.locals(slot=Py_ssize_t, value=cython.double)
    cpdef double size_float(self, long long tick) except? -1.0

    @cython.locals(n=Py_ssize_t, i=Py_ssize_t, tick=cython.longlong)
    cpdef Py_ssize_t keys_into(self, long long[::1] out) except -1

    @cython.locals(keys="long long[::1]", empty=cython.longlong, no_key=cython.longlong, i=Py_ssize_t,
                   j=Py_ssize_t, m=Py_ssize_t, tick=cython.longlong, key=cython.longlong)
    cpdef Py_ssize_t best_into(self, long long[::1] out, Py_ssize_t n, bint negate) except -1

    cpdef list items(self)

    @cython.locals(mask=Py_ssize_t, slot=Py_ssize_t, held=cython.longlong)
    cdef Py_ssize_t _slot(self, long long tick) except -1

    cdef _allocate(self, Py_ssize_t slots)


@cython.locals(product=cython.ulonglong)
cdef Py_ssize_t _home(long long tick, Py_ssize_t mask) noexcept

@cython.locals(scale=cython.double)
cpdef double pow10(Py_ssize_t decimals) noexcept

@cython.locals(mantissa=cython.longlong, significant=Py_ssize_t, digits=Py_ssize_t, decimals=Py_ssize_t,
               char=Py_UCS4)
cpdef double decimal_float(str text) except? -1.0
