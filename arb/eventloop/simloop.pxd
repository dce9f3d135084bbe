# Cython declarations for simloop.py (pure-Python mode, as arb/marketdata/book_side.pxd): a simulation's market
# time becomes an extension type with C fields (MarketTime: what every market instant asks), and the module
# functions asked at every instant C functions. SimulatedLoop itself stays a Python class (it is an asyncio
# loop). Keep in step with simloop.py: a renamed attribute or method fails the build, not at run time.
cimport cython

cdef class MarketTime:
    cdef readonly object loop
    cdef public double now
    cdef public double speed
    cdef public Py_ssize_t in_flight
    cdef public bint market_ended
    cdef public object spare_timer
    cdef public object thread
    cdef readonly dict ticks
    cdef readonly set tick_timers
    cdef Py_ssize_t advances

    cpdef object tick_after(self, double every_s, object idle)
    cpdef object looking_every(self, double every_s, object look, object idle)
    cdef set_tick(self, object future, double origin, double every_s, object idle, double when, object look)
    cpdef tick_due(self, object future)
    cdef end_tick(self, object future, object timer)
    cpdef object sleep_timer(self, double delay)
    cdef rearm(self, object timer, double when)
    cpdef bint skip_idle_ticks(self) except -1
    cpdef object advance(self, object timer)
    @cython.locals(i=Py_ssize_t)
    cdef run_ticks(self, list batch, Py_ssize_t start, Py_ssize_t stop)
    cpdef double jump(self, double timeout)
    cpdef bint nothing_due(self) except -1

cpdef MarketTime running_market()
cpdef object running_simulation()
cdef double _resolution_at(double now)

cdef bint _only_ticks_before(list scheduled, set tick_timers, double end, object timer, Py_ssize_t i) except -1

cdef MarketTime _started
