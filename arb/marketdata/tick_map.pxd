# Cython declarations for tick_map.py (pure-Python mode, see book_side.pxd): the compiled map keeps its ticks
# and exact sizes side by side in one C int64 buffer and hashes them with C unsigned arithmetic (the ``-1``
# of an empty slot as a C value). Built only when Cython and a C compiler are there (setup.py); without them
# tick_map.py runs unchanged, as a dict.
cimport cython

cdef extern from "Python.h":
    # CPython's own accessors for a str's buffer: an ASCII str stores one byte per character.
    bint PyUnicode_IS_ASCII(str)
    const unsigned char *PyUnicode_1BYTE_DATA(str)

ctypedef const unsigned char *ascii_chars

cdef bint _compiled
cdef unsigned long long _GOLDEN
cdef long long _EMPTY, _NONE, _TEXT, _NO_KEY, _SIZE_LIMIT, _EXACT_DOUBLE
cdef Py_ssize_t _SIZE_BITS, _MAX_SIZE_DIGITS

@cython.final
cdef class TickMap:
    cdef public dict map
    cdef public dict texts
    cdef long long[::1] slots
    cdef public Py_ssize_t mask
    cdef public Py_ssize_t used

    @cython.locals(i=Py_ssize_t)
    cpdef clear(self)

    @cython.locals(exact=cython.longlong)
    cpdef object get(self, long long tick)

    @cython.locals(exact=cython.longlong)
    cpdef object held(self, long long tick)

    @cython.locals(exact=cython.longlong)
    cpdef double size_float(self, long long tick) except? -1.0

    cpdef bint put(self, long long tick, str size) except -1

    @cython.locals(at=Py_ssize_t)
    cpdef bint put_exact(self, long long tick, long long exact, str size) except -1

    @cython.locals(mask=Py_ssize_t, hole=Py_ssize_t, at=Py_ssize_t, home=Py_ssize_t, moved=cython.longlong)
    cpdef bint remove(self, long long tick) except -1

    @cython.locals(n=Py_ssize_t, i=Py_ssize_t, tick=cython.longlong)
    cpdef Py_ssize_t keys_into(self, long long[::1] out) except -1

    @cython.locals(slots="long long[::1]", empty=cython.longlong, no_key=cython.longlong, i=Py_ssize_t,
                   j=Py_ssize_t, m=Py_ssize_t, tick=cython.longlong, key=cython.longlong)
    cpdef Py_ssize_t best_into(self, long long[::1] out, Py_ssize_t n, bint negate) except -1

    @cython.locals(i=Py_ssize_t)
    cpdef list items(self)

    @cython.locals(at=Py_ssize_t)
    cdef long long _exact(self, long long tick) noexcept

    @cython.locals(mask=Py_ssize_t, slot=Py_ssize_t, held=cython.longlong)
    cdef Py_ssize_t _slot(self, long long tick) except -1

    @cython.locals(i=Py_ssize_t, at=Py_ssize_t)
    cdef _allocate(self, Py_ssize_t slots)


@cython.locals(product=cython.ulonglong)
cdef Py_ssize_t _home(long long tick, Py_ssize_t mask) noexcept

@cython.locals(scale=cython.double)
cpdef double pow10(Py_ssize_t decimals) noexcept

# once a level, in the book side's apply loop
@cython.locals(n=Py_ssize_t, data=ascii_chars, mantissa=cython.longlong, significant=Py_ssize_t,
               point=Py_ssize_t, i=Py_ssize_t, digit=cython.uint, decimals=Py_ssize_t)
cpdef long long exact_size(str text) except? -3LL

@cython.locals(decimals=Py_ssize_t)
cpdef str size_text(long long exact)

@cython.locals(mantissa=cython.longlong, decimals=Py_ssize_t)
cpdef double size_double(long long exact) except? -1.0

cpdef object exact_decimal(long long exact)
