# Cython declarations for top_screen.py (pure-Python mode, see arb/marketdata/book_side.pxd): the pass over
# every pair's tops as a C loop over typed memoryviews, acquired once when the screen is built. Built only when
# Cython and a C compiler are there (setup.py); without them top_screen.py runs unchanged, and ``batch`` keeps
# its array path.
cimport cython

cdef double _hurdle

cdef class TopScreen:
    cdef const double[:, ::1] best
    cdef const unsigned char[::1] has_ask
    cdef const unsigned char[::1] has_bid
    cdef const Py_ssize_t[::1] received
    cdef const unsigned char[::1] live_at_update
    cdef Py_ssize_t book_max_age
    cdef const double[:, ::1] factors
    cdef Py_ssize_t venues
    cdef readonly Py_ssize_t items
    cdef const Py_ssize_t[::1] max_age
    cdef const double[::1] max_edge
    cdef const double[::1] max_size

    @cython.locals(items=Py_ssize_t, venues=Py_ssize_t, book_max_age=Py_ssize_t, plain=Py_ssize_t,
                   sized_items=Py_ssize_t, k=Py_ssize_t, first=Py_ssize_t, b=Py_ssize_t, s=Py_ssize_t,
                   top_b=Py_ssize_t, top_s=Py_ssize_t, top_code=Py_ssize_t, pair_code=Py_ssize_t, age_b=Py_ssize_t,
                   age_s=Py_ssize_t, a=cython.double, x=cython.double, g=cython.double, top_gross=cython.double,
                   top_ask=cython.double, top_bid=cython.double, sized=bint,
                   best="const double[:, ::1]", has_ask="const unsigned char[::1]",
                   has_bid="const unsigned char[::1]", received="const Py_ssize_t[::1]",
                   live_at_update="const unsigned char[::1]", factors="const double[:, ::1]",
                   max_age="const Py_ssize_t[::1]", max_edge="const double[::1]", max_size="const double[::1]")
    cpdef tuple screen(self, Py_ssize_t now, unsigned char[::1] outcome, Py_ssize_t[:, ::1] rejected,
                       double[:, ::1] prices, list results, object make, object batch)

cdef inline bint _sized(double ask, double bid, double buy_cost, double buy_net, double buy_quote, double sell_net,
                        double sell_base, double max_size) noexcept
