# Cython declarations for depth_scan.py (pure-Python mode, see book_side.pxd): the frame is read from its C
# buffer, each byte a C integer, and each string made by one copy. Built only when Cython and a C compiler are
# there (setup.py); without them depth_scan.py runs unchanged (and feeds do not call it).
cimport cython
from libc.string cimport memcpy

cdef extern from "Python.h":
    # CPython's own accessors for a str's buffer: an ASCII str stores one byte per character.
    bint PyUnicode_IS_ASCII(str)
    const unsigned char *PyUnicode_1BYTE_DATA(str)
    void *PyUnicode_DATA(object)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)

ctypedef const unsigned char *ascii_chars

cdef bint _compiled
cdef Py_ssize_t _max_chars, _max_digits, _max_int
cdef Py_ssize_t _skip_string, _skip_int, _key, _time, _first, _last, _prev, _bids, _asks

@cython.final
cdef class FrameShape:
    cdef public tuple parts

    @cython.locals(text=str)
    cpdef object scan(self, object data)

@cython.locals(at=Py_ssize_t, first=cython.longlong, last=cython.longlong, part=tuple, literal=bytes,
               kind=Py_ssize_t, lit=ascii_chars, m=Py_ssize_t, j=Py_ssize_t, end=Py_ssize_t,
               value=cython.longlong, levels=list)
cdef object _scan(ascii_chars buf, Py_ssize_t n, tuple parts)

@cython.locals(i=Py_ssize_t, char=cython.uchar)
cdef inline Py_ssize_t _string_end(ascii_chars buf, Py_ssize_t n, Py_ssize_t at) noexcept

@cython.locals(start=Py_ssize_t, end=Py_ssize_t, size_start=Py_ssize_t, size_end=Py_ssize_t)
cdef Py_ssize_t _levels(ascii_chars buf, Py_ssize_t n, Py_ssize_t at, list levels) except -2

@cython.locals(point=Py_ssize_t, digits=cython.uint, digit=cython.uint, i=Py_ssize_t)
cdef inline Py_ssize_t _decimal_end(ascii_chars buf, Py_ssize_t n, Py_ssize_t at, bint price) noexcept

@cython.locals(first=Py_ssize_t, last=Py_ssize_t, seen=Py_ssize_t, i=Py_ssize_t)
cdef Py_ssize_t _significant(ascii_chars buf, Py_ssize_t start, Py_ssize_t end) noexcept

cdef inline str _text(ascii_chars buf, Py_ssize_t start, Py_ssize_t end)
