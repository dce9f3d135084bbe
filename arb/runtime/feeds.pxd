# Cython declarations for feeds.py (pure-Python mode, as arb/marketdata/book_side.pxd): the market source's
# pending deliveries become an extension type with C fields, asked a few times every market instant (what is
# due next, take it, push a line read). Keep in step with feeds.py: a renamed attribute or method fails the
# build, not silently at run time.

cdef class _Deliveries:
    cdef object _queue
    cdef list _heap

    cpdef push(self, tuple delivery)
    cpdef object first_due(self)
    cpdef list take(self, due)
