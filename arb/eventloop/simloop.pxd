# Cython declarations for simloop.py (pure-Python mode, as arb/marketdata/book_side.pxd): the module functions
# asked at every market instant become C functions with C-typed locals. SimulatedLoop itself stays a Python
# class (it is an asyncio loop). Keep in step with simloop.py: a renamed function fails the build, not at run
# time.
cimport cython

cpdef object running_simulation()
cdef double _resolution_at(double now)

@cython.locals(size=Py_ssize_t, i=Py_ssize_t, branches=list)
cdef bint _only_ticks_before(list scheduled, set tick_timers, double end, object timer) except -1

cdef object _started
