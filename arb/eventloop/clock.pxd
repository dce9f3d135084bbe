# Cython declarations for clock.py (pure-Python mode, as arb/marketdata/book_side.pxd): MarketClock becomes an
# extension type with C fields, and its market time a C method. A simulation asks for the time a few times an
# instant (the detector, the watchers, the rows), and as a Python object each ask read and wrote its
# attributes through the instance's dict: ~3,500 instructions a call, where the loop's own time() is ~270.
# Keep in step with clock.py: a renamed attribute or method fails the build, not silently at run time.
from arb.eventloop.simloop cimport MarketTime, running_market

cdef class MarketClock:
    cdef public long long origin_ms
    cdef long long _last_us
    cdef long long _last_ms
    cdef double _last_time
    cdef MarketTime _market
    cdef tuple _made

    cdef long long _now_us(self) except? -1
