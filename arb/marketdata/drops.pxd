# Cython declarations for drops.py (pure-Python mode, see book_side.pxd): C types for the per-level checks,
# which every level of every frame passes before any book sees it. Built only when Cython and a C compiler
# are there (setup.py); without them drops.py runs unchanged.
cimport cython

cdef extern from "Python.h":
    # CPython's own accessors for a str's buffer: an ASCII str stores one byte per character.
    bint PyUnicode_IS_ASCII(str)
    const unsigned char *PyUnicode_1BYTE_DATA(str)

ctypedef const unsigned char *ascii_chars

cdef Py_ssize_t _max_chars, _max_digits
cdef bint _compiled

@cython.locals(text=str)
cpdef Py_ssize_t decimal_digits(object value) except? -2

@cython.locals(data=ascii_chars, i=Py_ssize_t, seen=Py_ssize_t, first=Py_ssize_t, last=Py_ssize_t,
               point=bint, after=Py_ssize_t, char=cython.uchar)
cdef Py_ssize_t _ascii_digits(str text) noexcept

# inline: called for every price and size; the calls cost ~60 ns a Binance depth frame (72 numbers)
@cython.locals(data=ascii_chars, n=Py_ssize_t, i=Py_ssize_t, digit=cython.uint, digits=cython.uint,
               point=Py_ssize_t)
cdef inline Py_ssize_t _ascii_plain(str text) noexcept

@cython.locals(levels=list, over=Py_ssize_t, digits=Py_ssize_t, size_digits=Py_ssize_t, pair=list, text=str,
               amount=str)
cpdef tuple checked_levels(object raw, str field)

cpdef object checked_id(object value, str field)

cpdef tuple update_ids(object first, object last)

@cython.locals(fields=dict)
cpdef tuple checked_diff(object payload, str time_key, object prev_key)

cpdef object optional_int(object value)

@cython.locals(levels=list, out=list, previous=cython.double, value=cython.double, i=Py_ssize_t, pair=list,
               text=str)
cpdef object capture_side(object raw, int order)

@cython.locals(data=ascii_chars, n=Py_ssize_t, i=Py_ssize_t, zeros=Py_ssize_t, start=Py_ssize_t)
cdef bint _bounded_decimal(str text) except -1
