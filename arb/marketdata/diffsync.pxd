# Cython declarations for diffsync.py (pure-Python mode, see book_side.pxd): DiffSync becomes an extension
# type, so on_diff (once per frame) reads its fields and its book's sequence as C struct members instead of
# instance-dict lookups. Built only when Cython and a C compiler are there (setup.py).
from arb.marketdata.book cimport OrderBook

cdef class DiffSync:
    cdef public object store
    cdef public object venue
    cdef public object symbol
    cdef public object rule
    cdef public OrderBook book
    cdef public object state
    cdef public Py_ssize_t gaps
    cdef public Py_ssize_t applied
    cdef public Py_ssize_t contained
    cdef public bint _starting
    cdef public object _buffer
